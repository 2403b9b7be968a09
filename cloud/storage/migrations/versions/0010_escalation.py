"""Alert escalation state and the notifications outbox.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, big_id, json_type

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_escalations",
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("level_since", UtcDateTime, nullable=False),
        sa.Column("last_step_at", UtcDateTime, nullable=False),
        sa.Column("next_at", UtcDateTime, nullable=True),
        sa.Column("seen_status", sa.String(16), nullable=False),
        sa.Column("reminders", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name="pk_alert_escalations"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_escalations_alert_id_alerts"),
        sa.CheckConstraint("level BETWEEN 0 AND 2", name="ck_alert_escalations_level"),
    )
    op.create_index("ix_alert_escalations_next_at", "alert_escalations", ["next_at"])
    op.create_table(
        "notifications",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("payload", json_type(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=True),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_notifications_alert_id_alerts"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_notifications_status"),
    )
    op.create_index("ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"])
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_alert_id", table_name="notifications")
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_alert_escalations_next_at", table_name="alert_escalations")
    op.drop_table("alert_escalations")
