"""Facility rooms: orders monitored by a camera-watched room, room events and alerts, rooms' last state.

An order is now monitored by a bracelet (`device_id`) or by a room of an isolation facility (`room_id`),
exactly one of them. Events and alerts carry whichever subject they are about. Conditions are keyed by
subject: a device id, or `site_id/room_id` for a room. `room_status` keeps each room's last reading.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UPDATE_HEADROOM_FILLFACTOR, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.alter_column("device_id", existing_type=sa.String(8), nullable=True)
        batch.add_column(sa.Column("room_id", sa.String(63), nullable=True))
        batch.create_index("ix_quarantine_orders_site_id_room_id", ["site_id", "room_id"])
        batch.create_check_constraint(
            "ck_quarantine_orders_one_subject", sa.text("(device_id IS NULL) <> (room_id IS NULL)")
        )
    with op.batch_alter_table("events") as batch:
        batch.alter_column("device_id", existing_type=sa.String(8), nullable=True)
        batch.add_column(sa.Column("room_id", sa.String(63), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("device_id", existing_type=sa.String(8), nullable=True)
        batch.add_column(sa.Column("room_id", sa.String(63), nullable=True))
    with op.batch_alter_table("device_conditions") as batch:
        batch.alter_column(
            "device_id", new_column_name="subject", existing_type=sa.String(8), type_=sa.String(128)
        )
    op.create_table(
        "room_status",
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("room_id", sa.String(63), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("faces", sa.Integer, nullable=False),
        sa.Column("allowed", sa.Integer, nullable=False),
        sa.Column("person_present", sa.Boolean, nullable=True),
        sa.Column("camera", sa.String(16), nullable=False),
        sa.Column("brightness", sa.Float, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "room_id", name="pk_room_status"),
        postgresql_with={"fillfactor": UPDATE_HEADROOM_FILLFACTOR},
    )


def downgrade() -> None:
    op.drop_table("room_status")
    with op.batch_alter_table("device_conditions") as batch:
        batch.alter_column(
            "subject", new_column_name="device_id", existing_type=sa.String(128), type_=sa.String(8)
        )
    for table in ("alerts", "events"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("room_id")
            batch.alter_column("device_id", existing_type=sa.String(8), nullable=False)
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.drop_constraint("ck_quarantine_orders_one_subject", type_="check")
        batch.drop_index("ix_quarantine_orders_site_id_room_id")
        batch.drop_column("room_id")
        batch.alter_column("device_id", existing_type=sa.String(8), nullable=False)
