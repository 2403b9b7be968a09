"""What the conformance probes observed of one bracelet, as frozen typed data (the checks' only input).

The probes (`probe.py`, `console_link.py`) fill these from the air, the GATT client and the serial
console; the checks never touch I/O, so each is tested with hand-built observations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AdvertReport:
    """One advertising report of the bracelet, as bleak delivered it (`time`: monotonic seconds)."""

    time: float
    rssi: int
    manufacturer_data: Mapping[int, bytes]
    local_name: str | None = None
    service_uuids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdvertSample:
    """The reports of one bracelet over a sampling window of `duration_s` seconds."""

    address: str
    reports: tuple[AdvertReport, ...]
    duration_s: float


@dataclass(frozen=True, slots=True)
class CharacteristicInfo:
    """A discovered characteristic: bleak's property names and its descriptors' UUIDs."""

    uuid: str
    properties: frozenset[str]
    descriptors: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReadResult:
    """A characteristic read: its value, or the error that came back instead."""

    value: bytes | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GattSnapshot:
    """What a GATT session found: services (UUID -> characteristics by UUID) and every readable value."""

    services: Mapping[str, Mapping[str, CharacteristicInfo]]
    reads: Mapping[str, ReadResult] = field(default_factory=dict)
    error: str | None = None  # the connection or discovery failed: nothing else is known


@dataclass(frozen=True, slots=True)
class Notification:
    """One notification (or indication) value and when it arrived (monotonic seconds)."""

    time: float
    value: bytes


@dataclass(frozen=True, slots=True)
class NotificationTrace:
    """Notifications of one characteristic after subscribing at `subscribed_at`, or why it failed."""

    uuid: str
    subscribed_at: float
    notifications: tuple[Notification, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StrapToggle:
    """The strap opened then closed through the console, with the Status notifications that followed."""

    opened_at: float
    closed_at: float
    notifications: tuple[Notification, ...]
    console_error: str | None = None


@dataclass(frozen=True, slots=True)
class ConsoleTranscript:
    """The console's answer (response lines, final line last) to each command sent, or why it failed."""

    url: str
    responses: Mapping[str, tuple[str, ...]]
    error: str | None = None
