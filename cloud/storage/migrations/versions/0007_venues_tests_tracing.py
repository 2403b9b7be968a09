"""Venues and checkpoints with their signed QR codes, check-ins and crossings; lab samples and results; cases.

`persons` gains the keyed identity hash (nullable, unique) so that a person whom tracing put in quarantine is
tied to their other records. Orders may now be `pending` (made by tracing, waiting for a bracelet or a room:
neither is set), and a person has at most one pending or active order.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, big_id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ONE_SUBJECT = "(device_id IS NULL) <> (room_id IS NULL)"
_ONE_SUBJECT_OR_PENDING = (
    _ONE_SUBJECT + " OR (status IN ('pending', 'ended') AND device_id IS NULL AND room_id IS NULL)"
)
_OPEN_STATUSES = sa.text("status IN ('pending', 'active')")


def upgrade() -> None:
    op.add_column("persons", sa.Column("identity_hash", sa.String(64), nullable=True))
    op.create_index("uq_persons_identity_hash", "persons", ["identity_hash"], unique=True)
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.drop_constraint("ck_quarantine_orders_one_subject", type_="check")
        batch.create_check_constraint("ck_quarantine_orders_one_subject", sa.text(_ONE_SUBJECT_OR_PENDING))
    op.create_index(
        "uq_quarantine_orders_open_person",
        "quarantine_orders",
        ["person_id"],
        unique=True,
        sqlite_where=_OPEN_STATUSES,
        postgresql_where=_OPEN_STATUSES,
    )
    op.create_table(
        "venues",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_venues"),
        sa.CheckConstraint("kind IN ('venue', 'checkpoint')", name="ck_venues_kind"),
    )
    op.create_index("ix_venues_ward_id", "venues", ["ward_id"])
    op.create_table(
        "checkins",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("venue_id", sa.Integer, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("checked_in_at", UtcDateTime, nullable=False),
        sa.Column("checked_out_at", UtcDateTime, nullable=True),
        sa.Column("present_until", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkins"),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"], name="fk_checkins_venue_id_venues"),
    )
    op.create_index("ix_checkins_venue_id_checked_in_at", "checkins", ["venue_id", "checked_in_at"])
    op.create_index("ix_checkins_identity_hash_checked_in_at", "checkins", ["identity_hash", "checked_in_at"])
    op.create_table(
        "crossings",
        sa.Column("id", big_id(), nullable=False, autoincrement=True),
        sa.Column("venue_id", sa.Integer, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("crossed_at", UtcDateTime, nullable=False),
        sa.Column("present_until", UtcDateTime, nullable=False),
        sa.Column("status_shown", sa.String(8), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crossings"),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"], name="fk_crossings_venue_id_venues"),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_crossings_direction"),
        sa.CheckConstraint("status_shown IN ('green', 'yellow', 'red')", name="ck_crossings_status_shown"),
    )
    op.create_index("ix_crossings_venue_id_crossed_at", "crossings", ["venue_id", "crossed_at"])
    op.create_index("ix_crossings_identity_hash_crossed_at", "crossings", ["identity_hash", "crossed_at"])
    op.create_table(
        "samples",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pooled", sa.Boolean, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=True),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("collected_at", UtcDateTime, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("retest_of", sa.Integer, nullable=True),
        sa.Column("registered_by", sa.String(64), nullable=False),
        sa.Column("registered_at", UtcDateTime, nullable=False),
        sa.Column("resulted_by", sa.String(64), nullable=True),
        sa.Column("resulted_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_samples"),
        sa.ForeignKeyConstraint(["retest_of"], ["samples.id"], name="fk_samples_retest_of_samples"),
        sa.CheckConstraint("kind IN ('pcr', 'rapid_antigen')", name="ck_samples_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'positive', 'negative', 'invalid')", name="ck_samples_status"
        ),
        sa.CheckConstraint("pooled OR identity_hash IS NOT NULL", name="ck_samples_single_has_person"),
    )
    op.create_index("ix_samples_ward_id_status", "samples", ["ward_id", "status"])
    op.create_index("ix_samples_identity_hash", "samples", ["identity_hash"])
    op.create_table(
        "sample_members",
        sa.Column("sample_id", sa.Integer, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "identity_hash", name="pk_sample_members"),
        sa.ForeignKeyConstraint(["sample_id"], ["samples.id"], name="fk_sample_members_sample_id_samples"),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("confirmed_at", UtcDateTime, nullable=False),
        sa.Column("source_sample_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.ForeignKeyConstraint(
            ["source_sample_id"], ["samples.id"], name="fk_cases_source_sample_id_samples"
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_cases_status"),
    )
    op.create_index("ix_cases_ward_id_confirmed_at", "cases", ["ward_id", "confirmed_at"])
    op.create_index(
        "uq_cases_open_identity_hash",
        "cases",
        ["identity_hash"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    for table in ("cases", "sample_members", "samples", "crossings", "checkins", "venues"):
        op.drop_table(table)
    # Orders made by tracing cannot exist without the pending state: they go with it.
    op.execute("DELETE FROM quarantine_orders WHERE device_id IS NULL AND room_id IS NULL")
    op.drop_index("uq_quarantine_orders_open_person", table_name="quarantine_orders")
    with op.batch_alter_table("quarantine_orders") as batch:
        batch.drop_constraint("ck_quarantine_orders_one_subject", type_="check")
        batch.create_check_constraint("ck_quarantine_orders_one_subject", sa.text(_ONE_SUBJECT))
    op.drop_index("uq_persons_identity_hash", table_name="persons")
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("identity_hash")
