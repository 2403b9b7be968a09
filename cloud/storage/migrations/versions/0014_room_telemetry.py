"""Room telemetry history: facility rooms' readings (occupancy, camera health) in the embedded SQL store.

A table of its own rather than a wider `telemetry`: rooms are keyed by (site_id, room_id), bracelets by an
8-character device id, and widening the bracelet table would rewrite its largest table on SQLite (batch
mode copies it) and change the index every bracelet query uses.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, big_id, json_type

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_telemetry",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("room_id", sa.String(63), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("values", json_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_room_telemetry"),
    )
    op.create_index(
        "ix_room_telemetry_site_id_room_id_time", "room_telemetry", ["site_id", "room_id", "time"]
    )


def downgrade() -> None:
    op.drop_index("ix_room_telemetry_site_id_room_id_time", table_name="room_telemetry")
    op.drop_table("room_telemetry")
