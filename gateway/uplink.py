"""The edge agent's ports towards the hub: the Uplink (decisions and telemetry out, durable) and the
CommandLink (the hub's commands in, their answers out, ephemeral)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from gateway.protocol import CommandMessage, EventMessage, EventType, SnapshotMessage, TelemetryMessage


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


CommandHandler = Callable[[CommandMessage], None]


class CommandLink(Protocol):
    """The hub's commands to a site, and the site's direct answers (ephemeral: never in the outbox)."""

    def subscribe_commands(self, handler: CommandHandler) -> Callable[[], None]:
        """Call `handler` (on the agent's event loop) with every valid command; returns the unsubscribe."""
        ...

    def send_snapshot(self, message: SnapshotMessage) -> bool:
        """Publish a snapshot answer now (QoS 1); False if it could not be sent (it is not kept)."""
        ...
