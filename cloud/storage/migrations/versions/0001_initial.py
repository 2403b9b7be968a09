"""Initial schema: officers, persons, orders, devices, events, conditions, alerts, change log, dead letters,
site status, telemetry.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, big_id, json_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('open', 'acknowledged')")
ACTIVE = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("wards", json_type(), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_officers"),
        sa.UniqueConstraint("username", name="uq_officers_username"),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registered_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=True),
        sa.Column("last_site_id", sa.String(63), nullable=True),
        sa.Column("last_battery", sa.Integer, nullable=True),
        sa.Column("last_rssi", sa.Float, nullable=True),
        sa.Column("last_presence", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_devices"),
    )
    op.create_table(
        "quarantine_orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine_orders"),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name="fk_quarantine_orders_person_id_persons"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"], name="fk_quarantine_orders_device_id_devices"),
    )
    op.create_index("ix_quarantine_orders_ward_id_status", "quarantine_orders", ["ward_id", "status"])
    op.create_index("ix_quarantine_orders_site_id_status", "quarantine_orders", ["site_id", "status"])
    op.create_index(
        "uq_quarantine_orders_active_device",
        "quarantine_orders",
        ["device_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "events",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("data", json_type(), nullable=False),
        sa.Column("flag", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    )
    op.create_index("ix_events_device_id_seq", "events", ["device_id", "seq"])
    op.create_table(
        "device_conditions",
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("condition", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("alert_type", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "condition", name="pk_device_conditions"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("opened_at", UtcDateTime, nullable=False),
        sa.Column("first_event_at", UtcDateTime, nullable=False),
        sa.Column("last_event_at", UtcDateTime, nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.Column("acknowledged_at", UtcDateTime, nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolution_note", sa.Text, nullable=True),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["order_id"], ["quarantine_orders.id"], name="fk_alerts_order_id_quarantine_orders"),
    )
    op.create_index("ix_alerts_ward_id_opened_at", "alerts", ["ward_id", "opened_at"])
    op.create_index("ix_alerts_status_opened_at", "alerts", ["status", "opened_at"])
    op.create_index(
        "uq_alerts_open_order_type", "alerts", ["order_id", "type"], unique=True, sqlite_where=OPEN, postgresql_where=OPEN
    )
    op.create_table(
        "alert_timeline",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_timeline"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_timeline_alert_id_alerts"),
    )
    op.create_index("ix_alert_timeline_alert_id", "alert_timeline", ["alert_id"])
    op.create_table(
        "alert_changes",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_changes"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_changes_alert_id_alerts"),
    )
    op.create_index("ix_alert_changes_ward_id_id", "alert_changes", ["ward_id", "id"])
    op.create_table(
        "dead_letters",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("received_at", UtcDateTime, nullable=False),
        sa.Column("topic", sa.String(512), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )
    op.create_table(
        "site_status",
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", UtcDateTime, nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_site_status"),
    )
    op.create_table(
        "telemetry",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("site_id", sa.String(63), nullable=False),
        sa.Column("device_id", sa.String(8), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
        sa.Column("values", json_type(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_telemetry"),
    )
    op.create_index("ix_telemetry_device_id_time", "telemetry", ["device_id", "time"])


def downgrade() -> None:
    for table in (
        "telemetry",
        "site_status",
        "dead_letters",
        "alert_changes",
        "alert_timeline",
        "alerts",
        "device_conditions",
        "events",
        "quarantine_orders",
        "devices",
        "persons",
        "officers",
    ):
        op.drop_table(table)
