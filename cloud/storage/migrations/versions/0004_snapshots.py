"""Room snapshots: officers' explicit requests for a blurred picture of a facility room, and the answers.

One row per request (its id is the command id sent to the edge). The JPEG is kept only until the
retention passes; then its bytes are deleted and the row stays, marked expired.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("room_id", sa.String(63), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=True),
        sa.Column("taken_at", UtcDateTime, nullable=True),
        sa.Column("faces_blurred", sa.Integer, nullable=True),
        sa.Column("error", sa.String(32), nullable=True),
        sa.Column("jpeg", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
    )
    op.create_index("ix_snapshots_status_requested_at", "snapshots", ["status", "requested_at"])
    op.create_index("ix_snapshots_site_id_room_id", "snapshots", ["site_id", "room_id"])


def downgrade() -> None:
    op.drop_index("ix_snapshots_site_id_room_id", table_name="snapshots")
    op.drop_index("ix_snapshots_status_requested_at", table_name="snapshots")
    op.drop_table("snapshots")
