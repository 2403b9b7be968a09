"""Vaccination sites, appointment slots and bookings, doses and adverse events.

Doses name the person only by the keyed hash of their identity number; (identity_hash, product,
dose_number) is unique, which makes bulk uploads idempotent. A slot's `booked` count is checked against its
capacity by the database (conditional update plus a check constraint).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloud.storage.schema import UtcDateTime, big_id

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vaccination_sites",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("daily_capacity", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vaccination_sites"),
        sa.CheckConstraint("daily_capacity > 0", name="ck_vaccination_sites_daily_capacity"),
    )
    op.create_index("ix_vaccination_sites_ward_id", "vaccination_sites", ["ward_id"])
    op.create_table(
        "vaccination_slots",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("starts_at", UtcDateTime, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("booked", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vaccination_slots"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["vaccination_sites.id"], name="fk_vaccination_slots_site_id_vaccination_sites"
        ),
        sa.UniqueConstraint("site_id", "starts_at", name="uq_vaccination_slots_site_id_starts_at"),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_vaccination_slots_booked"),
    )
    op.create_table(
        "vaccination_bookings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("slot_id", sa.Integer, nullable=False),
        sa.Column("citizen_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("booked_at", UtcDateTime, nullable=False),
        sa.Column("cancelled_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vaccination_bookings"),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["vaccination_slots.id"], name="fk_vaccination_bookings_slot_id_vaccination_slots"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name="fk_vaccination_bookings_citizen_id_citizens"
        ),
        sa.CheckConstraint("status IN ('booked', 'cancelled')", name="ck_vaccination_bookings_status"),
    )
    op.create_index("ix_vaccination_bookings_citizen_id", "vaccination_bookings", ["citizen_id"])
    op.create_index(
        "uq_vaccination_bookings_live",
        "vaccination_bookings",
        ["slot_id", "citizen_id"],
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_table(
        "vaccine_doses",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("lot", sa.String(32), nullable=False),
        sa.Column("dose_number", sa.Integer, nullable=False),
        sa.Column("series_doses", sa.Integer, nullable=False),
        sa.Column("site_id", sa.Integer, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("administered_at", UtcDateTime, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vaccine_doses"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["vaccination_sites.id"], name="fk_vaccine_doses_site_id_vaccination_sites"
        ),
        sa.UniqueConstraint(
            "identity_hash", "product", "dose_number", name="uq_vaccine_doses_identity_hash_product_dose_number"
        ),
    )
    op.create_index(
        "ix_vaccine_doses_ward_id_administered_at", "vaccine_doses", ["ward_id", "administered_at"]
    )
    op.create_table(
        "adverse_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("dose_id", sa.BigInteger, nullable=False),
        sa.Column("ward_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("onset_at", UtcDateTime, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=False),
        sa.Column("reporter_role", sa.String(16), nullable=False),
        sa.Column("reported_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_adverse_events"),
        sa.ForeignKeyConstraint(["dose_id"], ["vaccine_doses.id"], name="fk_adverse_events_dose_id_vaccine_doses"),
        sa.CheckConstraint(
            "severity IN ('mild', 'moderate', 'severe', 'life_threatening', 'fatal')",
            name="ck_adverse_events_severity",
        ),
    )
    op.create_index("ix_adverse_events_dose_id", "adverse_events", ["dose_id"])
    op.create_index("ix_adverse_events_ward_id_reported_at", "adverse_events", ["ward_id", "reported_at"])


def downgrade() -> None:
    op.drop_table("adverse_events")
    op.drop_table("vaccine_doses")
    op.drop_table("vaccination_bookings")
    op.drop_table("vaccination_slots")
    op.drop_table("vaccination_sites")
