"""The hub's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL; migrations/ creates them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite keeps no zone, so UTC is implied there)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC datetimes."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


def big_id() -> sa.types.TypeEngine[int]:
    """A 64-bit auto-increment key (SQLite's rowid is already 64-bit but must be spelled INTEGER)."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


OPEN_STATUSES = ("open", "acknowledged")
# PostgreSQL pages of tables that ingest updates in place keep this much room for new row versions, so that
# updates stay on the page and touch no index (HOT updates; see migration 0002).
UPDATE_HEADROOM_FILLFACTOR = 70
_UPDATE_HEADROOM = {"fillfactor": UPDATE_HEADROOM_FILLFACTOR}

officers = sa.Table(
    "officers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("wards", json_type(), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # The keyed hash of the identity number (cloud/identity.py) when known: ties a person that tracing put in
    # quarantine to their check-ins, samples and case (migration 0007).
    sa.Column("identity_hash", sa.String(64), nullable=True),
    sa.Index("uq_persons_identity_hash", "identity_hash", unique=True),
)

END_REASON_CHECK = (
    "end_reason IS NULL OR (status = 'ended' AND end_reason IN "
    "('negative_test', 'completed', 'transferred', 'cleared', 'entered_in_error'))"
)
orders = sa.Table(
    "quarantine_orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("site_id", sa.String(63), nullable=False),
    # Monitored by a bracelet (home quarantine) or by a camera-watched room of a facility: exactly one.
    sa.Column("device_id", sa.String(8), sa.ForeignKey("devices.device_id"), nullable=True),
    sa.Column("room_id", sa.String(63), nullable=True),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # How the order ended (cloud/release.py; migration 0013): who, when, why, the releasing negative sample
    # (reason negative_test) or the note (reasons without a test). Orders ended before 0013 have none.
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("ended_by", sa.String(64), nullable=True),
    sa.Column("end_reason", sa.String(24), nullable=True),
    sa.Column("release_sample_id", sa.Integer, sa.ForeignKey("samples.id"), nullable=True),
    sa.Column("end_note", sa.String(500), nullable=True),
    sa.Index("ix_quarantine_orders_ward_id_status", "ward_id", "status"),
    sa.Index("ix_quarantine_orders_site_id_status", "site_id", "status"),
    sa.Index("ix_quarantine_orders_site_id_room_id", "site_id", "room_id"),
    # A `pending` order (made by tracing, cloud/tracing.py) waits for its bracelet or room: it has neither;
    # so has a pending order that was ended before it was fitted (the contact was cleared).
    sa.CheckConstraint(
        "(device_id IS NULL) <> (room_id IS NULL) "
        "OR (status IN ('pending', 'ended') AND device_id IS NULL AND room_id IS NULL)",
        name="one_subject",
    ),
    sa.CheckConstraint(END_REASON_CHECK, name="end_reason"),
    # At most one active order per bracelet: ingest maps a device to one order.
    sa.Index(
        "uq_quarantine_orders_active_device",
        "device_id",
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    ),
    # At most one pending or active order per person: tracing's orders are idempotent per person.
    sa.Index(
        "uq_quarantine_orders_open_person",
        "person_id",
        unique=True,
        sqlite_where=sa.text("status IN ('pending', 'active')"),
        postgresql_where=sa.text("status IN ('pending', 'active')"),
    ),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(8), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=True),
    sa.Column("last_site_id", sa.String(63), nullable=True),
    sa.Column("last_battery", sa.Integer, nullable=True),
    sa.Column("last_rssi", sa.Float, nullable=True),
    sa.Column("last_presence", sa.String(16), nullable=True),
    postgresql_with=_UPDATE_HEADROOM,
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("site_id", sa.String(63), nullable=False),
    sa.Column("device_id", sa.String(8), nullable=True),
    sa.Column("room_id", sa.String(63), nullable=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("data", json_type(), nullable=False),
    sa.Column("flag", sa.String(32), nullable=True),
    sa.Index("ix_events_device_id_seq", "device_id", "seq"),
)

device_conditions = sa.Table(
    "device_conditions",
    metadata,
    # The device id, or a room's key `site_id/room_id` (cloud.rules.room_subject).
    sa.Column("subject", sa.String(128), primary_key=True),
    sa.Column("condition", sa.String(32), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("alert_type", sa.String(32), nullable=False),
    postgresql_with=_UPDATE_HEADROOM,
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Integer, sa.ForeignKey("quarantine_orders.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(8), nullable=True),
    sa.Column("room_id", sa.String(63), nullable=True),
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
    # Optimistic concurrency: each update checks and bumps it, so a stale cached copy never overwrites an ack.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_alerts_ward_id_opened_at", "ward_id", "opened_at"),
    sa.Index("ix_alerts_status_opened_at", "status", "opened_at"),
    # One open or acknowledged alert per (order, type): an incident updates its alert instead of flooding.
    sa.Index(
        "uq_alerts_open_order_type",
        "order_id",
        "type",
        unique=True,
        sqlite_where=sa.text("status IN ('open', 'acknowledged')"),
        postgresql_where=sa.text("status IN ('open', 'acknowledged')"),
    ),
    postgresql_with=_UPDATE_HEADROOM,
)

alert_timeline = sa.Table(
    "alert_timeline",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("ix_alert_timeline_alert_id", "alert_id"),
)

alert_changes = sa.Table(
    "alert_changes",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Index("ix_alert_changes_ward_id_id", "ward_id", "id"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("topic", sa.String(512), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
)

site_status = sa.Table(
    "site_status",
    metadata,
    sa.Column("site_id", sa.String(63), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # When this offline spell's hub_offline alerts were opened (null: not yet, or online).
    sa.Column("alerted_at", UtcDateTime, nullable=True),
)

room_status = sa.Table(
    "room_status",
    metadata,
    sa.Column("site_id", sa.String(63), primary_key=True),
    sa.Column("room_id", sa.String(63), primary_key=True),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("faces", sa.Integer, nullable=False),
    sa.Column("allowed", sa.Integer, nullable=False),
    sa.Column("person_present", sa.Boolean, nullable=True),
    sa.Column("camera", sa.String(16), nullable=False),
    sa.Column("brightness", sa.Float, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    postgresql_with=_UPDATE_HEADROOM,
)

telemetry = sa.Table(
    "telemetry",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.String(63), nullable=False),
    sa.Column("device_id", sa.String(8), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("values", json_type(), nullable=False),
    sa.Index("ix_telemetry_device_id_time", "device_id", "time"),
)

# Facility rooms' readings (occupancy, camera health), kept like the bracelets' (migration 0014). A table of
# its own: a room is keyed by (site_id, room_id), as in room_status, not by an 8-character device id.
room_telemetry = sa.Table(
    "room_telemetry",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("site_id", sa.String(63), nullable=False),
    sa.Column("room_id", sa.String(63), nullable=False),
    sa.Column("time", UtcDateTime, nullable=False),
    sa.Column("values", json_type(), nullable=False),
    sa.Index("ix_room_telemetry_site_id_room_id_time", "site_id", "room_id", "time"),
)

# Room snapshots asked for by officers (cloud/snapshots.py). `id` is the command id the edge answers with.
# The JPEG is personal data: its bytes are deleted `snapshot_retention_s` after receipt (status expired).
SNAPSHOT_STATUSES = ("pending", "ready", "failed", "expired")
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
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
    sa.Index("ix_snapshots_status_requested_at", "status", "requested_at"),
    sa.Index("ix_snapshots_site_id_room_id", "site_id", "room_id"),
)

# Citizens' accounts (cloud/citizens.py): only what the public-health features use. The national identity
# number is never stored, only its keyed hash (cloud/identity.py), which finds the citizen again.
citizens = sa.Table(
    "citizens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("handle", sa.String(16), nullable=False, unique=True),
    sa.Column("identity_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("full_name", sa.String(200), nullable=False),
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Column("phone", sa.String(32), nullable=True),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("address", sa.String(300), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_citizens_ward_id", "ward_id"),
)

# Citizens' declarations (cloud/declarations.py): health, domestic travel, feedback. `ward_id` is the ward
# the declaration concerns (the citizen's for health and travel, the reported place's for feedback), whose
# officers read it; `details` holds the kind's validated body.
DECLARATION_KINDS = ("health", "travel", "feedback")
declarations = sa.Table(
    "declarations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("citizen_id", sa.Integer, sa.ForeignKey("citizens.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("filed_at", UtcDateTime, nullable=False),
    sa.Column("details", json_type(), nullable=False),
    sa.Index("ix_declarations_ward_id_filed_at", "ward_id", "filed_at"),
    sa.Index("ix_declarations_citizen_id_filed_at", "citizen_id", "filed_at"),
    sa.CheckConstraint("kind IN ('health', 'travel', 'feedback')", name="kind"),
)

# --- Vaccination (cloud/vaccination.py, cloud/storage/vaccination.py; migration 0008) ---
# Sites serve one ward; their vaccinators record doses there. Slots are bookable windows of a site: `booked`
# only moves by a conditional UPDATE (booked < capacity), so concurrent bookings never overfill a slot.
vaccination_sites = sa.Table(
    "vaccination_sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("address", sa.String(300), nullable=True),
    sa.Column("daily_capacity", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_vaccination_sites_ward_id", "ward_id"),
    sa.CheckConstraint("daily_capacity > 0", name="daily_capacity"),
)

vaccination_slots = sa.Table(
    "vaccination_slots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("vaccination_sites.id"), nullable=False),
    sa.Column("starts_at", UtcDateTime, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("booked", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("site_id", "starts_at"),
    sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="booked"),
)

# A citizen's booking of a slot; one live booking per citizen and slot (a cancelled one stays as history).
vaccination_bookings = sa.Table(
    "vaccination_bookings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slot_id", sa.Integer, sa.ForeignKey("vaccination_slots.id"), nullable=False),
    sa.Column("citizen_id", sa.Integer, sa.ForeignKey("citizens.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("booked_at", UtcDateTime, nullable=False),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.Index("ix_vaccination_bookings_citizen_id", "citizen_id"),
    sa.Index(
        "uq_vaccination_bookings_live",
        "slot_id",
        "citizen_id",
        unique=True,
        sqlite_where=sa.text("status = 'booked'"),
        postgresql_where=sa.text("status = 'booked'"),
    ),
    sa.CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
)

# Doses given: the person only as the keyed hash of their identity number (cloud/identity.py). One row per
# (person, product, dose number): a re-uploaded file or a retried request inserts nothing twice.
vaccine_doses = sa.Table(
    "vaccine_doses",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("identity_hash", sa.String(64), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("lot", sa.String(32), nullable=False),
    sa.Column("dose_number", sa.Integer, nullable=False),
    sa.Column("series_doses", sa.Integer, nullable=False),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("vaccination_sites.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("administered_at", UtcDateTime, nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("identity_hash", "product", "dose_number"),
    # Few indexes on purpose: each one slows the bulk path (a site's listing filters the ward's index).
    sa.Index("ix_vaccine_doses_ward_id_administered_at", "ward_id", "administered_at"),
)

ADVERSE_EVENT_SEVERITIES = ("mild", "moderate", "severe", "life_threatening", "fatal")
adverse_events = sa.Table(
    "adverse_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("dose_id", sa.BigInteger, sa.ForeignKey("vaccine_doses.id"), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("onset_at", UtcDateTime, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("reported_by", sa.String(64), nullable=False),
    sa.Column("reporter_role", sa.String(16), nullable=False),
    sa.Column("reported_at", UtcDateTime, nullable=False),
    sa.Index("ix_adverse_events_dose_id", "dose_id"),
    sa.Index("ix_adverse_events_ward_id_reported_at", "ward_id", "reported_at"),
    sa.CheckConstraint(
        "severity IN ('mild', 'moderate', 'severe', 'life_threatening', 'fatal')", name="severity"
    ),
)

# Venues and road checkpoints (cloud/venues.py), each with a signed QR code (cloud/qrcodes.py). Only what
# the QR, the staff's ward scope and tracing use: no owner's personal data.
VENUE_KINDS = ("venue", "checkpoint")
venues = sa.Table(
    "venues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index("ix_venues_ward_id", "ward_id"),
    sa.CheckConstraint("kind IN ('venue', 'checkpoint')", name="kind"),
)

# A citizen's presence at a venue, by the keyed hash of their identity number. `present_until` is the
# check-out time, or check-in plus the default dwell while there is none (capped: cloud/venues.py
# MAX_STAY), so that tracing compares intervals with plain index range scans on (venue_id, checked_in_at).
checkins = sa.Table(
    "checkins",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id"), nullable=False),
    sa.Column("identity_hash", sa.String(64), nullable=False),
    sa.Column("checked_in_at", UtcDateTime, nullable=False),
    sa.Column("checked_out_at", UtcDateTime, nullable=True),
    sa.Column("present_until", UtcDateTime, nullable=False),
    # Tracing's encounter scan (cloud/storage/tracing.py): the stay's end in the key, the person included.
    sa.Index(
        "ix_checkins_venue_id_checked_in_at_present_until",
        "venue_id",
        "checked_in_at",
        "present_until",
        postgresql_include=["identity_hash"],
    ),
    sa.Index("ix_checkins_identity_hash_checked_in_at", "identity_hash", "checked_in_at"),
)

# Entry/exit control at road checkpoints: who crossed (keyed hash), which way, when, the health status shown.
# `present_until` is the crossing plus the time people spend at the checkpoint (cloud/venues.py), for tracing.
CROSSING_DIRECTIONS = ("in", "out")
HEALTH_STATUSES = ("green", "yellow", "red")
crossings = sa.Table(
    "crossings",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id"), nullable=False),
    sa.Column("identity_hash", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("crossed_at", UtcDateTime, nullable=False),
    sa.Column("present_until", UtcDateTime, nullable=False),
    sa.Column("status_shown", sa.String(8), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Index(
        "ix_crossings_venue_id_crossed_at_present_until",
        "venue_id",
        "crossed_at",
        "present_until",
        postgresql_include=["identity_hash"],
    ),
    sa.Index("ix_crossings_identity_hash_crossed_at", "identity_hash", "crossed_at"),
    sa.CheckConstraint("direction IN ('in', 'out')", name="direction"),
    sa.CheckConstraint("status_shown IN ('green', 'yellow', 'red')", name="status_shown"),
)

# Lab samples (cloud/labs.py): one person's (`identity_hash`) or a pool's (members in `sample_members`). A
# retest (`retest_of`: the positive pool) is pending until its result; its collection time may be unknown.
SAMPLE_KINDS = ("pcr", "rapid_antigen")
SAMPLE_STATUSES = ("pending", "positive", "negative", "invalid")
samples = sa.Table(
    "samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("pooled", sa.Boolean, nullable=False),
    sa.Column("identity_hash", sa.String(64), nullable=True),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("collected_at", UtcDateTime, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("retest_of", sa.Integer, sa.ForeignKey("samples.id"), nullable=True),
    sa.Column("registered_by", sa.String(64), nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("resulted_by", sa.String(64), nullable=True),
    sa.Column("resulted_at", UtcDateTime, nullable=True),
    sa.Index("ix_samples_ward_id_status", "ward_id", "status"),
    sa.Index("ix_samples_identity_hash", "identity_hash"),
    sa.CheckConstraint("kind IN ('pcr', 'rapid_antigen')", name="kind"),
    sa.CheckConstraint("status IN ('pending', 'positive', 'negative', 'invalid')", name="status"),
    sa.CheckConstraint("pooled OR identity_hash IS NOT NULL", name="single_has_person"),
)

sample_members = sa.Table(
    "sample_members",
    metadata,
    sa.Column("sample_id", sa.Integer, sa.ForeignKey("samples.id"), primary_key=True),
    sa.Column("identity_hash", sa.String(64), primary_key=True),
    # The member's place in the pool as the lab entered it (1-based): how the lab finds whom to retest.
    sa.Column("position", sa.Integer, nullable=False),
    sa.Index("ix_sample_members_identity_hash", "identity_hash"),
)

# Confirmed cases: a positive individual sample makes its person a case; one open case per person.
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("identity_hash", sa.String(64), nullable=False),
    sa.Column("ward_id", sa.String(64), nullable=False),
    sa.Column("confirmed_at", UtcDateTime, nullable=False),
    sa.Column("source_sample_id", sa.Integer, sa.ForeignKey("samples.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Index("ix_cases_ward_id_confirmed_at", "ward_id", "confirmed_at"),
    sa.Index(
        "uq_cases_open_identity_hash",
        "identity_hash",
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.CheckConstraint("status IN ('open', 'closed')", name="status"),
)

# --- Wards and daily aggregates (cloud/aggregates.py, cloud/storage/aggregates.py; migration 0009) ---
# A ward's name and population (set by an admin): the denominator of vaccination coverage; unknown
# population (null, or no row) leaves coverage null. Wards need no row to have records or officers.
wards = sa.Table(
    "wards",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("population", sa.Integer, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("population > 0", name="population"),
)

# Tests per ward and day count samples by the time of their result.
sa.Index("ix_samples_ward_id_resulted_at", samples.c.ward_id, samples.c.resulted_at)

# --- Escalation and notifications (cloud/escalation.py, cloud/notify/; migration 0010) ---
# An alert's escalation: its level (0 officers, 1 supervisors, 2 district), when the next step is due, and
# the status seen at the last step (a change of status, an acknowledgement or a reopening, is a step too).
alert_escalations = sa.Table(
    "alert_escalations",
    metadata,
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), primary_key=True),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("level_since", UtcDateTime, nullable=False),
    sa.Column("last_step_at", UtcDateTime, nullable=False),
    sa.Column("next_at", UtcDateTime, nullable=True),
    sa.Column("seen_status", sa.String(16), nullable=False),
    sa.Column("reminders", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_alert_escalations_next_at", "next_at"),
    sa.CheckConstraint("level BETWEEN 0 AND 2", name="level"),
)

# The notifications outbox: written in the transaction of the step that causes it, delivered by the
# dispatcher with retries (pending -> sent, or failed after the last attempt).
NOTIFICATION_STATUSES = ("pending", "sent", "failed")
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
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
    # The dispatcher attempting the row and until when it holds it (migration 0015): hub replicas skip rows
    # another one holds; a crashed replica's rows are attempted again once its claim has expired.
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("claimed_until", UtcDateTime, nullable=True),
    sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_notifications_alert_id", "alert_id"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
)
