"""A paho subscriber in the hub's role: records what arrives, waits for it without blocking the loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

from gateway.protocol import (
    EVENT_ADAPTER,
    STATUS_ADAPTER,
    TELEMETRY_ADAPTER,
    Channel,
    EventMessage,
    StatusMessage,
    TelemetryMessage,
    parse_topic,
    subscription_for,
)


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the subscriber saw it."""

    topic: str
    payload: bytes
    retain: bool


class Collector:
    """Subscribes to every site's events, telemetry and status (QoS 1) and keeps the messages in order."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 1883
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-hub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv311,
        )
        if username:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_unsubscribe = self._on_unsubscribe
        self._unsubscribed = threading.Event()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.messages: list[Received] = []

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        client.subscribe([(subscription_for(channel), 1) for channel in Channel])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, rcs: object, props: object
    ) -> None:
        self._subscribed.set()

    def _on_unsubscribe(
        self, client: mqtt.Client, userdata: object, mid: int, rcs: object, props: object
    ) -> None:
        self._unsubscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))

    async def start(self, timeout: float = 10.0) -> Collector:
        """Connect and wait for the SUBACK."""
        self._client.connect_async(self._host, self._port, keepalive=10)
        self._client.loop_start()
        await wait_until(self._subscribed.is_set, timeout, "the collector's subscription")
        return self

    async def stop(self) -> None:
        """Unsubscribe, disconnect and join paho's thread."""
        # Stop the flow first: a message arriving after paho closed its socket makes the kernel answer
        # with a reset, and amqtt 0.12 leaks the transport of a reset connection.
        if self._client.is_connected():
            self._client.unsubscribe([subscription_for(channel) for channel in Channel])
            with contextlib.suppress(AssertionError):
                await wait_until(self._unsubscribed.is_set, 2.0, "UNSUBACK")
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    def _on(self, channel: Channel) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if parse_topic(m.topic)[1] is channel]

    def events(self, site_id: str | None = None) -> list[EventMessage]:
        """Every event received (duplicates included), in arrival order."""
        found = [EVENT_ADAPTER.validate_json(m.payload) for m in self._on(Channel.EVENTS)]
        return [e for e in found if site_id is None or e.site_id == site_id]

    def telemetry(self) -> list[TelemetryMessage]:
        """Every telemetry batch received, in arrival order."""
        return [TELEMETRY_ADAPTER.validate_json(m.payload) for m in self._on(Channel.TELEMETRY)]

    def statuses(self) -> list[tuple[StatusMessage, bool]]:
        """Every status received with its retain flag, in arrival order."""
        return [(STATUS_ADAPTER.validate_json(m.payload), m.retain) for m in self._on(Channel.STATUS)]

    def topics(self) -> list[str]:
        """The topic of every message received."""
        with self._lock:
            return [m.topic for m in self.messages]

    async def wait_for_events(self, count: int, timeout: float = 15.0) -> list[EventMessage]:
        """Wait until `count` distinct event ids arrived; return all events received (duplicates included)."""
        await wait_until(
            lambda: len({e.event_id for e in self.events()}) >= count, timeout, f"{count} events"
        )
        return self.events()


async def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` without blocking the event loop (an in-process broker may share it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def unique_in_order(events: list[EventMessage]) -> list[EventMessage]:
    """De-duplicate by event id, keeping the first arrival (what the hub's ingest does)."""
    seen: set[uuid.UUID] = set()
    out: list[EventMessage] = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append(event)
    return out
