"""MqttUplink: the Uplink port over paho-mqtt 2, fed from the durable outbox.

Delivery contract (at-least-once, idempotent consumer):

* `emit_event` returns once the event is on disk in the outbox. From then on it is delivered to the broker
  at least once, in outbox order, across broker outages and agent restarts.
* Events go out as QoS 1, at most `inflight_window` unacknowledged at a time. An outbox row is deleted
  only after the broker's PUBACK for it.
* After a reconnect, paho re-sends the unacknowledged in-flight rows first (the same bytes, DUP flag set, in
  their original order) and the sender then continues with the following outbox rows; after an agent
  restart every unacknowledged row is read again from the outbox, from the oldest. A PUBACK lost with the
  connection therefore means the hub receives that event twice: the hub MUST de-duplicate on `event_id`
  (and may use the per-device `seq` to spot late or missing events).
* Telemetry is QoS 0 while connected; while disconnected batches wait in the outbox's bounded lane (oldest
  dropped) and are flushed after the reconnect.
* Presence: the last will is a retained QoS 1 `offline` status ("last will"); every (re)connect publishes a
  retained `online`; a clean `stop()` publishes a retained `offline` ("shutdown") before disconnecting.
  New events and telemetry go out only after the broker acknowledged this connection's `online`: by then
  paho has re-queued the previous connection's unacknowledged events, so nothing new can overtake them.
* Commands (`.../commands`, QoS 1): the uplink subscribes to its own site's topic on every (re)connect
  (sessions are clean, so each connection subscribes again), validates each command and hands it to the
  handlers registered with `subscribe_commands`, on the event loop. An invalid command is logged and
  counted (`commands_invalid`), never raised. Answers (`send_snapshot`) are published at once, QoS 1, and
  never go through the outbox: a snapshot is ephemeral, and one that cannot be sent now is dropped.
* A broker that refuses an event for good (an MQTT 5 PUBACK with an error code, e.g. not authorised) gets
  it logged, counted in `events_rejected` and deleted: retrying would block every later event. Over
  MQTT 3.1.1 a broker drops a denied publish silently and still acknowledges it.

Threads: paho's network thread runs the socket, the reconnect backoff (MqttSettings.reconnect_min_s /
reconnect_max_s, also for the first connection, so the agent starts without a broker) and the callbacks.
The callbacks only hand their news to the asyncio loop (`call_soon_threadsafe`); all of the uplink's own
state lives on the loop, and the sender task wakes on an asyncio.Event set by emit_*, PUBACKs and
(re)connects, never by polling. Outbox reads and deletions run in worker threads (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

import qmon
from gateway.mqtt_client import build_client
from gateway.outbox import Outbox
from gateway.protocol import (
    COMMAND_ADAPTER,
    Channel,
    CommandMessage,
    EventMessage,
    EventType,
    SiteState,
    SnapshotMessage,
    StatusMessage,
    TelemetryMessage,
    encode_message,
    topic_for,
    utc_from_timestamp,
)
from gateway.settings import MqttSettings
from gateway.uplink import CommandHandler
from qmon.clock import Clock

log = logging.getLogger(__name__)

TELEMETRY_BATCH = 50


@dataclass(frozen=True, slots=True)
class UplinkStats:
    """A snapshot of the uplink's state and counters (since this uplink object was created)."""

    connected: bool  # see MqttUplink.connected
    events_sent: int  # publishes handed to paho (paho's own re-sends after a reconnect not counted)
    events_acked: int  # PUBACKs received for events
    events_rejected: int  # events the broker refused for good (MQTT 5 error PUBACK); deleted
    events_inflight: int  # published, PUBACK outstanding
    events_pending: int  # rows in the outbox, in-flight ones included
    telemetry_sent: int  # batches published (QoS 0)
    telemetry_pending: int  # batches waiting in the bounded lane
    telemetry_dropped: int  # batches dropped from the lane over its bound (kept in the outbox file)
    connects: int  # connections acknowledged by the broker
    reconnects: int  # connects after the first
    connect_failures: int  # attempts that failed (unreachable, or refused: bad credentials)
    commands_received: int = 0  # valid commands handed to the handlers
    commands_invalid: int = 0  # commands dropped: not valid JSON, not a valid command, or another site's
    snapshots_sent: int = 0  # snapshot answers handed to paho (QoS 1)
    commands_subscribed: bool = False  # the broker granted this connection's commands subscription


class MqttUplink:
    """Durable, ordered delivery of one site's events and telemetry to the broker (implements `Uplink`),
    and its commands in and their answers out (implements `CommandLink`).

    `start()` and `stop()` are coroutines: call them from the agent's event loop. `emit_event` and
    `emit_telemetry` are plain calls that may come from any thread, before or after `start()`; each is one
    SQLite commit (`emit_event` waits for its fsync, typically a few milliseconds). One start/stop cycle
    per object: a restarted agent builds a new uplink on the same outbox file.
    """

    def __init__(
        self,
        settings: MqttSettings,
        site_id: str,
        outbox: Outbox,
        clock: Clock,
        *,
        agent_version: str = qmon.__version__,
        inflight_window: int = 100,
    ) -> None:
        if inflight_window < 1:
            raise ValueError("inflight_window must be at least 1")
        self.site_id = site_id
        self.settings = settings
        self._status_topic = topic_for(site_id, Channel.STATUS)  # also validates the site id
        self._commands_topic = topic_for(site_id, Channel.COMMANDS)
        self._outbox = outbox
        self._clock = clock
        self._agent_version = agent_version
        self._window = inflight_window
        self._client = build_client(
            settings,
            f"qmon-site-{site_id}",
            will=(self._status_topic, self._status("last will", False), 1, True),
        )
        # Our own window bounds what paho holds; paho must never park messages in its "queued" state.
        self._client.max_inflight_messages_set(0)
        self._client.enable_logger(log)
        self._client.on_pre_connect = self._paho_pre_connect
        self._client.on_connect = self._paho_connect
        self._client.on_connect_fail = self._paho_connect_fail
        self._client.on_disconnect = self._paho_disconnect
        self._client.on_publish = self._paho_publish
        self._client.on_message = self._paho_message
        self._client.on_subscribe = self._paho_subscribe

        # Loop-side state: only touched on the event loop's thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._sender: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._stopping = False
        self._connected = False  # the broker acknowledged this connection's `online`: new events may go
        self._online_mid: int | None = None  # paho thread only: the `online` publish awaiting its PUBACK
        self._cursor = 0  # row id of the last event handed to paho; later rows are not sent yet
        self._inflight: dict[int, int] = {}  # paho mid -> outbox row id
        self._acked: list[int] = []  # row ids acknowledged but not yet deleted
        self._status_waiters: dict[int, asyncio.Future[None]] = {}
        self._events_sent = self._events_acked = self._events_rejected = 0
        self._telemetry_sent = 0
        self._connects = self._connect_failures = 0
        self._command_handlers: dict[object, CommandHandler] = {}
        self._commands_received = self._commands_invalid = self._snapshots_sent = 0
        self._commands_mid: int | None = None  # paho thread only: the commands SUBSCRIBE awaiting its SUBACK
        self._commands_subscribed = False

    # ---- the Uplink port -------------------------------------------------------------------------------

    def emit_event(
        self, device_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        """Persist an event (event id, next per-device seq), fsync it, and wake the sender."""
        message = self._outbox.enqueue_event(self.site_id, device_id, type, time, data)
        self._wake_sender()
        return message

    def emit_room_event(
        self, room_id: str, type: EventType, time: float, data: Mapping[str, Any]
    ) -> EventMessage:
        """As emit_event, about a facility room (the sequence is per room)."""
        message = self._outbox.enqueue_event(self.site_id, None, type, time, data, room_id=room_id)
        self._wake_sender()
        return message

    def emit_telemetry(self, message: TelemetryMessage) -> None:
        """Queue a telemetry batch in the bounded lane and wake the sender."""
        if message.site_id != self.site_id:
            raise ValueError(
                f"telemetry for site {message.site_id!r} given to the uplink of {self.site_id!r}"
            )
        self._outbox.enqueue_telemetry(message)
        self._wake_sender()

    # ---- the CommandLink port ---------------------------------------------------------------------------

    def subscribe_commands(self, handler: CommandHandler) -> Callable[[], None]:
        """Call `handler` on the event loop with each valid command for this site; returns the unsubscribe."""
        token = object()
        self._command_handlers[token] = handler

        def unsubscribe() -> None:
            self._command_handlers.pop(token, None)

        return unsubscribe

    def send_snapshot(self, message: SnapshotMessage) -> bool:
        """Publish a snapshot answer at once (QoS 1, not retained); False when not connected (dropped)."""
        if message.site_id != self.site_id:
            raise ValueError(f"snapshot for site {message.site_id!r} given to the uplink of {self.site_id!r}")
        if not self._client.is_connected():
            log.warning("uplink %s: not connected; snapshot %s dropped", self.site_id, message.command_id)
            return False
        info = self._client.publish(
            topic_for(self.site_id, Channel.SNAPSHOTS), encode_message(message), qos=1
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("uplink %s: snapshot %s not sent: %s", self.site_id, message.command_id, info.rc)
            return False
        self._snapshots_sent += 1
        return True

    # ---- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background (retrying with backoff) and start the sender; returns at once."""
        if self._sender is not None:
            raise RuntimeError("uplink already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
        )
        self._client.loop_start()
        self._sender = asyncio.create_task(self._run_sender(), name=f"mqtt-uplink-{self.site_id}")
        self._wake.set()  # the outbox may hold events from before a restart
        log.info("uplink %s started towards %s", self.site_id, self.settings.url)

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop cleanly: wait (up to `timeout`) for in-flight PUBACKs, publish `offline`, disconnect.

        Events not yet acknowledged stay in the outbox and are sent by the next uplink on the same file.
        """
        if self._sender is None or self._stopping:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._stopping = True
        self._wake.set()
        await self._sender
        if self._client.is_connected():
            await self._wait_until(lambda: not self._inflight, deadline)
            await self._publish_offline(deadline)
        if self._acked:
            acked, self._acked = self._acked, []
            await asyncio.to_thread(self._outbox.mark_sent, acked)
        # paho's network thread may run one more loop after disconnect() and log "Client is not connected"
        # as an error; the shutdown is deliberate, so its logger goes quiet first.
        self._client.disable_logger()
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        if self._client.socket() is not None:
            # paho's thread reconnected after our disconnect() raced with it: close that connection too.
            self._client.disconnect()
        self._set_connected(False)
        log.info("uplink %s stopped", self.site_id)

    async def __aenter__(self) -> MqttUplink:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- observable state ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True once the broker accepted the connection and acknowledged our `online`; False when it drops."""
        return self._connected

    def stats(self) -> UplinkStats:
        """Counters plus what the outbox holds right now."""
        box = self._outbox.stats()
        return UplinkStats(
            connected=self._connected,
            events_sent=self._events_sent,
            events_acked=self._events_acked,
            events_rejected=self._events_rejected,
            events_inflight=len(self._inflight),
            events_pending=box.pending_events,
            telemetry_sent=self._telemetry_sent,
            telemetry_pending=box.pending_telemetry,
            telemetry_dropped=box.telemetry_dropped,
            connects=self._connects,
            reconnects=max(0, self._connects - 1),
            connect_failures=self._connect_failures,
            commands_received=self._commands_received,
            commands_invalid=self._commands_invalid,
            snapshots_sent=self._snapshots_sent,
            commands_subscribed=self._commands_subscribed,
        )

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until connected; False on timeout."""
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drain(self, timeout: float) -> bool:
        """Wait until every event in the outbox was acknowledged and deleted; False on timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        return await self._wait_until(
            lambda: not self._inflight and not self._acked and self._no_pending(), deadline
        )

    def _no_pending(self) -> bool:
        return not self._outbox.pending_events(1)

    # ---- sender (event loop) ---------------------------------------------------------------------------

    async def _run_sender(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                break
            try:
                await self._flush()
            except Exception:
                # A failing disk must not kill the sender: log, then retry on the next wake or in a second.
                log.exception("uplink %s: sending from the outbox failed", self.site_id)
                await asyncio.sleep(1.0)
                self._wake.set()
            self._progress.set()

    async def _flush(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            await asyncio.to_thread(self._outbox.mark_sent, acked)
        if not self._connected:
            return
        await self._send_events()
        await self._send_telemetry()

    async def _send_events(self) -> None:
        while self._connected and not self._stopping and len(self._inflight) < self._window:
            rows = await asyncio.to_thread(
                self._outbox.pending_events, self._window - len(self._inflight), after=self._cursor
            )
            if not rows:
                return
            for row in rows:
                if not self._connected or self._stopping:
                    return
                info = self._client.publish(topic_for(row.site_id, Channel.EVENTS), row.payload, qos=1)
                # NO_CONN: paho keeps the QoS 1 message and sends it, in order, after the reconnect.
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    log.warning("uplink %s: paho refused event row %d: %s", self.site_id, row.id, info.rc)
                    return
                self._inflight[info.mid] = row.id
                self._cursor = row.id
                self._events_sent += 1

    async def _send_telemetry(self) -> None:
        while self._connected and not self._stopping:
            rows = await asyncio.to_thread(self._outbox.pending_telemetry, TELEMETRY_BATCH)
            sent: list[int] = []
            for row in rows:
                info = self._client.publish(topic_for(row.site_id, Channel.TELEMETRY), row.payload, qos=0)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # not connected after all: the batch stays in the lane for the next connection
                sent.append(row.id)
            if sent:
                await asyncio.to_thread(self._outbox.mark_telemetry_sent, sent)
                self._telemetry_sent += len(sent)
            if len(rows) < TELEMETRY_BATCH or len(sent) < len(rows):
                return

    async def _publish_offline(self, deadline: float) -> None:
        """Publish the retained `offline` status and wait for its PUBACK until the deadline."""
        loop = asyncio.get_running_loop()
        info = self._client.publish(self._status_topic, self._status("shutdown", False), qos=1, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return
        waiter = self._status_waiters.setdefault(info.mid, loop.create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), max(0.0, deadline - loop.time()))
        except TimeoutError:
            log.warning("uplink %s: no PUBACK for the offline status before the stop deadline", self.site_id)
        finally:
            self._status_waiters.pop(info.mid, None)

    async def _wait_until(self, condition: Any, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except TimeoutError:
                return bool(condition())
        return True

    # ---- news from paho's thread, applied on the loop ----------------------------------------------------

    def _set_commands_subscribed(self, subscribed: bool) -> None:
        self._commands_subscribed = subscribed
        self._progress.set()

    def _set_connected(self, connected: bool) -> None:
        if not connected:
            self._commands_subscribed = False
        if connected and not self._connected:
            self._connects += 1
            self._connected_event.set()
        elif not connected:
            self._connected_event.clear()
        self._connected = connected
        self._wake.set()
        self._progress.set()

    def _on_ack(self, mid: int, failed: bool, reason: str) -> None:
        waiter = self._status_waiters.get(mid)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        row = self._inflight.pop(mid, None)
        if row is not None:
            if failed:
                # Retrying a refused publish would block every later event; the broker said no for good.
                self._events_rejected += 1
                log.error(
                    "uplink %s: broker refused event row %d: %s; dropping it", self.site_id, row, reason
                )
            else:
                self._events_acked += 1
            self._acked.append(row)
            self._wake.set()
        self._progress.set()

    def _on_connect_failure(self) -> None:
        self._connect_failures += 1
        self._progress.set()

    def _on_command(self, command: CommandMessage | None) -> None:
        if command is None:
            self._commands_invalid += 1
            return
        self._commands_received += 1
        handlers = list(self._command_handlers.values())
        if not handlers:
            log.warning("uplink %s: no handler for command %s; dropped", self.site_id, command.command_id)
        for handler in handlers:
            try:
                handler(command)
            except Exception:
                log.exception("uplink %s: command handler failed on %s", self.site_id, command.command_id)

    def _to_loop(self, callback: Any, *args: Any) -> None:
        """Run `callback(*args)` on the event loop; dropped once the loop is gone (the process is ending)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(callback, *args)

    def _wake_sender(self) -> None:
        if self._loop is None:
            return  # not started: start() wakes the sender anyway
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:
            self._to_loop(self._wake.set)

    # ---- paho callbacks (paho's network thread) ---------------------------------------------------------

    def _paho_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        # Refresh the will so its time is this connection's start rather than the uplink's creation.
        client.will_set(self._status_topic, self._status("last will", False), qos=1, retain=True)

    def _paho_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode, properties: Any
    ) -> None:
        if reason_code.is_failure:
            log.error("uplink %s: broker refused the connection: %s", self.site_id, reason_code)
            self._to_loop(self._on_connect_failure)
            return
        log.info("uplink %s connected to %s", self.site_id, self.settings.url)
        # The sender may only add new events once paho has re-queued the unacknowledged ones of the
        # previous connection, which it does right after this callback returns: new events would
        # otherwise overtake them. The PUBACK of this status comes later still, so it opens the gate.
        info = client.publish(self._status_topic, self._status(None, True), qos=1, retain=True)
        self._online_mid = info.mid
        # Clean sessions: the broker forgot the subscription with the previous connection.
        _, self._commands_mid = client.subscribe(self._commands_topic, qos=1)

    def _paho_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        log.debug("uplink %s: broker %s unreachable; retrying with backoff", self.site_id, self.settings.url)
        self._to_loop(self._on_connect_failure)

    def _paho_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode, properties: Any
    ) -> None:
        if not self._stopping:
            log.warning("uplink %s disconnected: %s; reconnecting with backoff", self.site_id, reason_code)
        self._online_mid = None
        self._to_loop(self._set_connected, False)

    def _paho_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: ReasonCode, properties: Any
    ) -> None:
        if mid == self._online_mid:
            self._online_mid = None
            if reason_code.is_failure:
                log.error("uplink %s: broker refused our status: %s", self.site_id, reason_code)
            self._to_loop(self._set_connected, True)
        self._to_loop(self._on_ack, mid, reason_code.is_failure, str(reason_code))

    def _paho_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        if mid != self._commands_mid:
            return
        granted = not any(code.is_failure for code in reason_codes)
        if not granted:
            log.error(
                "uplink %s: the broker refused the commands subscription: %s", self.site_id, reason_codes
            )
        self._to_loop(self._set_commands_subscribed, granted)

    def _paho_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Validated here (cheap), handled on the loop; nothing a broker or the hub sends may raise.
        command: CommandMessage | None = None
        try:
            if msg.topic != self._commands_topic:
                raise ValueError(f"unexpected topic {msg.topic!r}")
            command = COMMAND_ADAPTER.validate_json(msg.payload)
            if command.site_id != self.site_id:
                raise ValueError(f"command for site {command.site_id!r}")
        except Exception as exc:  # ValidationError, a bad topic or encoding: paho's thread must go on
            command = None
            log.warning("uplink %s: invalid command dropped: %s", self.site_id, str(exc)[:300])
        self._to_loop(self._on_command, command)

    def _status(self, reason: str | None, online: bool) -> bytes:
        message = StatusMessage(
            site_id=self.site_id,
            state=SiteState.ONLINE if online else SiteState.OFFLINE,
            time=utc_from_timestamp(self._clock.now()),
            reason=reason,
            agent_version=self._agent_version,
        )
        return encode_message(message)
