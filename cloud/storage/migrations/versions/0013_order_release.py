"""How a quarantine order ended: who ended it, when, the reason, the releasing sample and the note.

The release policy (cloud/release.py) makes ending an order take a reason; `negative_test` cites a negative
lab sample of the person. Orders ended before this migration keep null release facts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_END_REASON = (
    "end_reason IS NULL OR (status = 'ended' AND end_reason IN "
    "('negative_test', 'completed', 'transferred', 'cleared', 'entered_in_error'))"
)

# Final names (op.f): the metadata's naming convention must not prefix them a second time.
_CHECK = op.f("ck_quarantine_orders_end_reason")
_FK = op.f("fk_quarantine_orders_release_sample_id_samples")


def upgrade() -> None:
    # SQLite cannot add a foreign key or a check to a table: batch mode rebuilds it there.
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.add_column(sa.Column("ended_at", UtcDateTime, nullable=True))
        batch.add_column(sa.Column("ended_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("end_reason", sa.String(24), nullable=True))
        batch.add_column(sa.Column("release_sample_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("end_note", sa.String(500), nullable=True))
        batch.create_foreign_key(_FK, "samples", ["release_sample_id"], ["id"])
        batch.create_check_constraint(_CHECK, sa.text(_END_REASON))


def downgrade() -> None:
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.drop_constraint(_CHECK, type_="check")
        batch.drop_constraint(_FK, type_="foreignkey")
        for column in ("end_note", "release_sample_id", "end_reason", "ended_by", "ended_at"):
            batch.drop_column(column)
