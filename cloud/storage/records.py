"""Typed, immutable records the repository returns (rows become these at the storage boundary)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from cloud.escalation import EscalationState
from cloud.rules import OrderContext


@dataclass(frozen=True, slots=True)
class Officer:
    """A hub user: ward officer, supervisor or admin."""

    id: int
    username: str
    password_hash: str
    role: str
    wards: tuple[str, ...]
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Officer:
        """Build from an `officers` row."""
        return cls(
            row["id"],
            row["username"],
            row["password_hash"],
            row["role"],
            tuple(row["wards"]),
            row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class Person:
    """A person under quarantine: only what the officers' work needs."""

    id: int
    full_name: str
    phone: str | None
    identity_hash: str | None = None

    @property
    def identified(self) -> bool:
        """Whether the person's identity number is known, so that their lab samples can be matched."""
        return self.identity_hash is not None


@dataclass(frozen=True, slots=True)
class Order:
    """A home-quarantine order: who, where, which bracelet and home hub, from when to when."""

    id: int
    person: Person
    ward_id: str
    address: str
    site_id: str
    device_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    room_id: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    release_sample_id: int | None = None
    end_note: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Order:
        """Build from an orders row joined with its person (person_id, full_name, phone, identity_hash)."""
        person = Person(row["person_id"], row["full_name"], row["phone"], row["identity_hash"])
        return cls(
            row["id"],
            person,
            row["ward_id"],
            row["address"],
            row["site_id"],
            row["device_id"],
            row["starts_at"],
            row["ends_at"],
            row["status"],
            row["created_by"],
            row["created_at"],
            row["updated_at"],
            row["room_id"],
            row["ended_at"],
            row["ended_by"],
            row["end_reason"],
            row["release_sample_id"],
            row["end_note"],
        )

    @property
    def subject(self) -> str:
        """What monitors the order: its bracelet's id, or its room's key (`site/room`)."""
        return self.context().subject

    def context(self) -> OrderContext:
        """What the rules engine needs of this order."""
        return OrderContext(
            self.id, self.ward_id, self.site_id, self.device_id, self.starts_at, self.ends_at, self.room_id
        )


@dataclass(frozen=True, slots=True)
class Device:
    """A registered bracelet, its last reported state and the active order it serves (if any)."""

    device_id: str
    kind: str
    registered_at: datetime
    last_seen_at: datetime | None
    last_site_id: str | None
    last_battery: int | None
    last_rssi: float | None
    last_presence: str | None
    order_id: int | None = None
    ward_id: str | None = None

    @classmethod
    def from_row(cls, row: RowMapping) -> Device:
        """Build from a `devices` row, optionally joined with order_id / ward_id."""
        return cls(
            row["device_id"],
            row["kind"],
            row["registered_at"],
            row["last_seen_at"],
            row["last_site_id"],
            row["last_battery"],
            row["last_rssi"],
            row["last_presence"],
            row.get("order_id"),
            row.get("ward_id"),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """One incident for one order: its state, counts and handling."""

    id: int
    order_id: int
    ward_id: str
    device_id: str | None
    room_id: str | None
    site_id: str
    type: str
    severity: str
    status: str
    active: bool
    opened_at: datetime
    first_event_at: datetime
    last_event_at: datetime
    event_count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    title: str
    summary: str
    updated_at: datetime
    version: int

    @classmethod
    def from_row(cls, row: RowMapping) -> Alert:
        """Build from an `alerts` row."""
        return cls(**{name: row[name] for name in ALERT_FIELDS})

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for SSE payloads)."""
        return {name: getattr(self, name) for name in ALERT_FIELDS}


ALERT_FIELDS = tuple(f.name for f in fields(Alert))


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One step in an alert's history: an event, a clearance, an acknowledgement, a resolution."""

    id: int
    alert_id: int
    event_id: str | None
    kind: str
    time: datetime
    note: str


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An entry of the alert change log; its id is the SSE event id. It carries the alert and its escalation
    state (None: not seen by the escalation sweep yet) for the live feed."""

    id: int
    alert_id: int
    ward_id: str
    kind: str
    time: datetime
    alert: Alert | None = None
    escalation: EscalationState | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An edge event as stored, with the flag the rules gave it."""

    event_id: str
    site_id: str
    device_id: str | None
    room_id: str | None
    seq: int
    type: str
    time: datetime
    received_at: datetime
    data: dict[str, Any]
    flag: str | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An MQTT message the hub could not accept, kept with the reason."""

    id: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class SiteStatusRecord:
    """A site's last announced connection state."""

    site_id: str
    state: str
    since: datetime
    reason: str | None
    updated_at: datetime
    alerted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RoomStatus:
    """A facility room's last reading from its edge box: counts and camera state, never images."""

    site_id: str
    room_id: str
    time: datetime
    faces: int
    allowed: int
    person_present: bool | None
    camera: str
    brightness: float | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """An officer's request for a room snapshot and what became of it (the JPEG is read on its own)."""

    id: str
    site_id: str
    room_id: str
    requested_by: str
    requested_at: datetime
    status: str  # pending, ready, failed, expired
    received_at: datetime | None
    taken_at: datetime | None
    faces_blurred: int | None
    error: str | None
    has_image: bool


@dataclass(frozen=True, slots=True)
class SnapshotAnswer:
    """An edge's answer to a snapshot request, as ingest stores it: a JPEG (`ready`) or an error."""

    id: str
    site_id: str
    room_id: str
    status: str  # ready or failed
    taken_at: datetime
    faces_blurred: int | None
    error: str | None
    jpeg: bytes | None


@dataclass(frozen=True, slots=True)
class Citizen:
    """A citizen's account: only what the public-health features use (no identity number in clear)."""

    id: int
    handle: str
    identity_hash: str
    password_hash: str
    full_name: str
    birth_date: date
    phone: str | None
    ward_id: str
    address: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> Citizen:
        """Build from a `citizens` row."""
        return cls(**{name: row[name] for name in CITIZEN_FIELDS})


CITIZEN_FIELDS = tuple(f.name for f in fields(Citizen))


@dataclass(frozen=True, slots=True)
class Declaration:
    """A citizen's health, travel or feedback declaration, under the ward whose officers read it."""

    id: int
    kind: str
    citizen_id: int
    ward_id: str
    filed_at: datetime
    details: dict[str, Any]

    @classmethod
    def from_row(cls, row: RowMapping) -> Declaration:
        """Build from a `declarations` row."""
        return cls(row["id"], row["kind"], row["citizen_id"], row["ward_id"], row["filed_at"], row["details"])
