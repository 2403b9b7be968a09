"""What the edge decides about one bracelet or one facility room: an event type, when, and the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.protocol import EventType


@dataclass(frozen=True, slots=True)
class Decision:
    """One decided event; `data` is the evidence, sent as the event's `data` (JSON-serialisable values)."""

    device_id: str
    type: EventType
    time: float
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RoomDecision:
    """One decided event about a facility room (camera pipeline); `data` as for `Decision`."""

    room_id: str
    type: EventType
    time: float
    data: Mapping[str, Any]


def format_time(seconds: float) -> str:
    """Unix seconds as RFC 3339 UTC text with a Z, for evidence values."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
