"""The Uplink port: what an edge agent hands its decisions and telemetry to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gateway.protocol import EventMessage, EventType, TelemetryMessage


class Uplink(Protocol):
    """Durable, ordered delivery of a site's events (QoS 1) and telemetry (QoS 0) to the hub."""

    def emit_event(
        self, device_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        """Persist an event (assigning its event id and the device's next sequence number) and queue it.

        Returns only after the event is on disk: it survives a crash and a broker outage from then on.
        """
        ...

    def emit_room_event(
        self, room_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        """As emit_event, for an event about a facility room (camera decisions)."""
        ...

    def emit_telemetry(self, message: TelemetryMessage) -> None:
        """Queue a telemetry batch (kept, bounded, while the broker is unreachable)."""
        ...
