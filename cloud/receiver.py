"""Receiving site messages over MQTT: the port ingest consumes, and its paho adapter.

QoS 1 messages are acknowledged only when ingest says so (manual ack), after their batch is committed, over a
persistent session: a crash between receipt and commit loses nothing (the broker re-delivers; event ids
de-duplicate). A message id is only valid on the connection it arrived on, so every message carries its
connection's *generation*, and acknowledgements for an earlier connection are dropped.

This module imports no database or web code: `cloud.receiver_process` runs `MqttReceiver` in a child process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from gateway.mqtt_client import build_client, connect_properties
from gateway.protocol import Channel, subscription_for
from gateway.settings import MqttSettings

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "qmon-hub"
SUBSCRIPTIONS = ((Channel.EVENTS, 1), (Channel.STATUS, 1), (Channel.TELEMETRY, 0), (Channel.SNAPSHOTS, 1))

# One received message: (topic, payload, qos, message id, connection generation). A plain tuple of atoms,
# which the garbage collector stops tracking: tens of thousands can wait for the ingest worker in a burst.
Inbound = tuple[str, bytes, int, int, int]
Deliver = Callable[[Sequence[Inbound]], None]


class Receiver(Protocol):
    """Where ingest's messages come from, and where their acknowledgements go."""

    def start(self, deliver: Deliver) -> None:
        """Connect (resuming the broker-side session) and hand every message to `deliver`."""
        ...

    def acknowledge(self, items: Iterable[Inbound]) -> int:
        """Acknowledge the QoS 1 messages among `items` that arrived on the current connection; how many."""
        ...

    def stop(self) -> None:
        """Disconnect, keeping the broker-side session; nothing is delivered or acknowledged afterwards."""
        ...

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        ...

    @property
    def connects(self) -> int:
        """Successful connections so far."""
        ...

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (or the timeout)."""
        ...


@dataclass(frozen=True)
class ReceiverConfig:
    """What a receiver needs (plain data: it is handed to a child process)."""

    mqtt: MqttSettings
    session_expiry_s: int
    receive_maximum: int
    shared_subscription_group: str | None = None


class MqttReceiver:
    """A paho client on its own network thread; the thread only parses packets and calls `deliver`.

    `generation_base` separates the generations of several receivers over the life of one hub (the child
    process adapter gives each child its own).
    """

    def __init__(
        self,
        config: ReceiverConfig,
        *,
        generation_base: int = 0,
        on_connection: Callable[[int | None], None] | None = None,
    ) -> None:
        self._config = config
        self._on_connection = on_connection
        self._deliver: Deliver | None = None
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()
        self._generation = generation_base  # bumped on every connection and on stop
        self._connects = 0
        self._connected = threading.Event()
        self._subscribe_mid: int | None = -1
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self, deliver: Deliver) -> None:
        """Connect in the background (paho retries until the broker answers) and start delivering."""
        self._deliver = deliver
        self._stopping = False
        self._client = client = self._build_client()
        settings = self._config.mqtt
        props = connect_properties(settings, self._config.session_expiry_s)
        if props is not None:
            props.ReceiveMaximum = self._config.receive_maximum
            client.connect_async(
                settings.host, settings.port, settings.keepalive_s, clean_start=False, properties=props
            )
        else:
            client.connect_async(settings.host, settings.port, settings.keepalive_s)
        client.loop_start()

    def stop(self) -> None:
        """Disconnect (the broker keeps the session) and stop the network thread."""
        self._stopping = True
        client, self._client = self._client, None
        if client is not None:
            with self._lock:
                self._generation += 1  # nothing received so far may be acknowledged on a later connection
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._connected.is_set()

    @property
    def connects(self) -> int:
        """Successful connections so far."""
        return self._connects

    @property
    def generation(self) -> int:
        """The current connection's generation."""
        return self._generation

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed (or the timeout)."""
        return self._connected.wait(timeout)

    # -- acknowledging -------------------------------------------------------------------------------------

    def acknowledge(self, items: Iterable[Inbound]) -> int:
        """Acknowledge the QoS 1 messages among `items` that arrived on the current connection."""
        client = self._client
        if client is None:
            return 0
        sent = 0
        generation = self._generation
        for _topic, _payload, qos, mid, item_generation in items:
            if qos > 0 and item_generation == generation:
                client.ack(mid, qos)
                sent += 1
        return sent

    def acknowledge_ids(self, generation: int, mids: Iterable[int]) -> int:
        """Acknowledge QoS 1 message ids that arrived on connection `generation`, if it is still current."""
        client = self._client
        if client is None or generation != self._generation:
            return 0
        sent = 0
        for mid in mids:
            client.ack(mid, 1)
            sent += 1
        return sent

    # -- paho callbacks (network thread) ---------------------------------------------------------------

    def _build_client(self) -> mqtt.Client:
        client = build_client(self._config.mqtt, DEFAULT_CLIENT_ID, clean_session=False)
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.error("hub ingest: broker refused the connection: %s", reason)
            return
        with self._lock:
            self._generation += 1
            self._connects += 1
        group = self._config.shared_subscription_group
        prefix = f"$share/{group}/" if group else ""
        _, self._subscribe_mid = client.subscribe(
            [(prefix + subscription_for(channel), qos) for channel, qos in SUBSCRIPTIONS]
        )
        log.info("hub ingest connected (session present: %s)", getattr(flags, "session_present", None))

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: Any, _props: Any
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [r for r in reasons if r.is_failure]
        if refused:
            log.error("hub ingest: the broker refused subscriptions: %s", refused)
        self._connected.set()  # from here on nothing published is missed
        if self._on_connection is not None:
            self._on_connection(self._generation)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if self._on_connection is not None:
            self._on_connection(None)
        if not self._stopping:
            log.warning("hub ingest disconnected: %s (paho reconnects)", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)  # kept as a dead letter, with the raw bytes visible
        deliver = self._deliver
        if deliver is not None:
            deliver(((topic, bytes(msg.payload), msg.qos, msg.mid, self._generation),))
