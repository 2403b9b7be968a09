"""Citizens and their declarations: the first tables of the public-health platforms.

`citizens` holds self-registered accounts with only what the features use; the national identity number
is kept only as its keyed hash. `declarations` holds health, domestic travel and feedback declarations,
each under the ward whose officers read it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, json_type

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("handle", sa.String(16), nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_citizens"),
        sa.UniqueConstraint("handle", name="uq_citizens_handle"),
        sa.UniqueConstraint("identity_hash", name="uq_citizens_identity_hash"),
    )
    op.create_index("ix_citizens_ward_id", "citizens", ["ward_id"])
    op.create_table(
        "declarations",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("citizen_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("filed_at", UtcDateTime, nullable=False),
        sa.Column("details", json_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_declarations"),
        sa.ForeignKeyConstraint(["citizen_id"], ["citizens.id"], name="fk_declarations_citizen_id_citizens"),
        sa.CheckConstraint("kind IN ('health', 'travel', 'feedback')", name="ck_declarations_kind"),
    )
    op.create_index("ix_declarations_ward_id_filed_at", "declarations", ["ward_id", "filed_at"])
    op.create_index("ix_declarations_citizen_id_filed_at", "declarations", ["citizen_id", "filed_at"])


def downgrade() -> None:
    op.drop_table("declarations")
    op.drop_index("ix_citizens_ward_id", table_name="citizens")
    op.drop_table("citizens")
