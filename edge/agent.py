"""The edge agent's composition root: settings, clock and adapters in; a running monitor out.

`EdgeAgent` wires the gate, one tracker per assigned bracelet, each home's calibration, the BLE monitor
and the GATT maintenance, and keeps their state (learned profiles, what the hub was told, advert
counters) in a state store across restarts. `run_edge` adds the real uplink (SQLite outbox + MQTT).

A facility box also has `rooms`: each is a camera analysed in a worker thread (edge/camera/), whose
decisions go through the same uplink and whose readings ride in the same telemetry batch. A box with
rooms and no bracelets does not start BLE scanning; the camera modules (OpenCV, onnxruntime) are loaded
only when rooms are configured.

With a `commands` link (run_edge passes the MQTT uplink), the agent also answers the hub's commands: a
snapshot of a room, every face blurred (edge/commands.py).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edge.backends import ClientFactory, ScannerFactory, client_factory_for, scanner_factory_for
from edge.calibration import HomeCalibration
from edge.commands import CommandResponder
from edge.decision import Decision, RoomDecision
from edge.gate import AdvertGate
from edge.maintenance import GattMaintainer
from edge.monitor import BraceletMonitor, DecisionListener
from edge.settings import EdgeSettings
from edge.state import EdgeState, JsonStateStore, StateStore
from edge.tracker import BraceletTracker
from gateway.uplink import CommandLink, Uplink
from qmon.clock import Clock

if TYPE_CHECKING:
    from edge.camera.capture import SourceOpener
    from edge.camera.monitor import RoomMonitor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AgentStats:
    """Cumulative counters of one agent run."""

    reports: int
    adverts_accepted: int
    duplicates: int
    rejected: dict[str, int]
    decisions: dict[str, int]
    telemetry_batches: int
    errors: int
    emit_failures: int
    gatt_sessions_ok: int
    gatt_sessions_failed: int
    time_syncs: int
    config_writes: int
    calibrated_homes: int
    state_saves: int
    scanning: bool
    room_decisions: dict[str, int] = field(default_factory=dict)
    frames_analysed: int = 0
    detections: int = 0
    camera_cpu_s: float = 0.0
    cameras_offline: list[str] = field(default_factory=list)
    snapshots: dict[str, int] = field(default_factory=dict)  # answers to snapshot commands, by outcome


class EdgeAgent:
    """One edge site: BLE in, decisions and telemetry out through `uplink`."""

    def __init__(
        self,
        settings: EdgeSettings,
        clock: Clock,
        uplink: Uplink,
        *,
        scanner_factory: ScannerFactory | None = None,
        client_factory: ClientFactory | None = None,
        state_store: StateStore | None = None,
        source_opener: SourceOpener | None = None,
        commands: CommandLink | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._uplink = uplink
        self._commands = commands
        self.responder: CommandResponder | None = None
        self._scanner_factory = scanner_factory
        self._client_factory = client_factory
        self._source_opener = source_opener
        self.state_store: StateStore = state_store or JsonStateStore(settings.state_path)
        self._listeners: dict[object, DecisionListener] = {}
        self.monitor: BraceletMonitor | None = None
        self.maintainer: GattMaintainer | None = None
        self.rooms: RoomMonitor | None = None
        self._room_listeners: dict[object, Callable[[RoomDecision], None]] = {}
        self.calibrations: dict[str, HomeCalibration] = {}
        self.trackers: dict[str, BraceletTracker] = {}
        self._state = EdgeState()
        self._dirty = False
        self._last_save = float("-inf")
        self._save_failures = 0
        self.state_saves = 0

    def subscribe(self, listener: Callable[[Decision], None]) -> Callable[[], None]:
        """Call `listener` with every decision; returns the unsubscribe callable."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    def subscribe_rooms(self, listener: Callable[[RoomDecision], None]) -> Callable[[], None]:
        """Call `listener` with every room (camera) decision; returns the unsubscribe callable."""
        token = object()
        self._room_listeners[token] = listener

        def unsubscribe() -> None:
            self._room_listeners.pop(token, None)

        return unsubscribe

    def _build_rooms(self) -> RoomMonitor | None:
        if not self.settings.rooms:
            return None
        from edge.camera.rooms import build_room_monitor  # OpenCV and onnxruntime: only for cameras

        rooms = build_room_monitor(
            self.settings, self._clock, self._uplink, self._state.rooms, opener=self._source_opener
        )
        rooms.subscribe(self._on_room_decision)
        return rooms

    def _build(self) -> BraceletMonitor:
        settings = self.settings
        now = self._clock.now()
        self._state = self.state_store.load()
        presence = settings.presence.to_policy()
        calibration_policy = settings.presence.calibration.to_policy()
        vitals = settings.vitals.to_policy()
        self.calibrations = {}
        self.trackers = {}
        for bracelet in settings.bracelets:
            home = bracelet.home_id
            if home not in self.calibrations:
                self.calibrations[home] = HomeCalibration(
                    home, calibration_policy, presence.default_thresholds, self._state.profiles.get(home)
                )
            self.trackers[bracelet.device_id] = BraceletTracker(
                bracelet.device_id,
                home_id=home,
                presence=presence,
                vitals=vitals,
                calibration=self.calibrations[home],
                started_at=now,
                snapshot=self._state.devices.get(bracelet.device_id),
            )
        gate = AdvertGate(
            {b.device_id: b.key_bytes() for b in settings.bracelets},
            duplicate_window_s=settings.duplicate_window_s,
            counters=self._state.counters,
        )
        self.rooms = self._build_rooms()
        # A camera-only facility box has no bracelets: its BLE stack is left alone.
        scan = bool(settings.bracelets) or self.rooms is None
        scanner_factory = self._scanner_factory or scanner_factory_for(settings.ble)
        monitor = BraceletMonitor(
            site_id=settings.site_id,
            gate=gate,
            trackers=self.trackers,
            uplink=self._uplink,
            clock=self._clock,
            scanner_factory=scanner_factory,
            tick_interval_s=settings.tick_interval_s,
            telemetry_interval_s=settings.telemetry_interval_s,
            on_tick=self._on_tick,
            scan=scan,
            rooms=self.rooms.readings if self.rooms is not None else None,
        )
        monitor.subscribe(self._on_decision)
        self.monitor = monitor
        if settings.gatt.interval_s > 0 and scan:
            client_factory = self._client_factory or client_factory_for(
                settings.ble, timeout=settings.gatt.connect_timeout_s
            )
            self.maintainer = GattMaintainer(
                settings.gatt,
                self._clock,
                client_factory,
                self.trackers,
                monitor.devices,
                paused=monitor.paused,
            )
        calibrated = sum(1 for c in self.calibrations.values() if c.calibrated)
        log.info(
            "edge agent %s: %d bracelets in %d homes (%d calibrated), %d camera rooms",
            settings.site_id,
            len(self.trackers),
            len(self.calibrations),
            calibrated,
            len(settings.rooms),
        )
        return monitor

    async def run(self, stop: asyncio.Event) -> None:
        """Monitor (and answer the hub's commands) until `stop` is set; the state is saved on the way out."""
        monitor = self._build()
        unsubscribe: Callable[[], None] | None = None
        if self._commands is not None:
            self.responder = CommandResponder(
                self.settings.site_id,
                self._commands,
                self._clock,
                self.rooms,
                max_age_s=self.settings.camera.snapshot_max_age_s,
            )
            unsubscribe = self._commands.subscribe_commands(self.responder.handle)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(monitor.run(stop), name="edge-monitor")
                if self.maintainer is not None:
                    group.create_task(self.maintainer.run(stop), name="edge-gatt")
                if self.rooms is not None:
                    group.create_task(self.rooms.run(stop), name="edge-rooms")
        finally:
            if unsubscribe is not None:
                unsubscribe()
            if self.responder is not None:
                await self.responder.close()
            self.save_state()

    # ---- state ------------------------------------------------------------------------------------------

    def _on_decision(self, decision: Decision) -> None:
        self._dirty = True  # what the hub was told changed: persist it with the next tick
        for listener in list(self._listeners.values()):
            try:
                listener(decision)
            except Exception:
                log.exception("decision listener failed")

    def _on_room_decision(self, decision: RoomDecision) -> None:
        self._dirty = True
        for listener in list(self._room_listeners.values()):
            try:
                listener(decision)
            except Exception:
                log.exception("room decision listener failed")

    def _on_tick(self, now: float) -> None:
        for calibration in self.calibrations.values():
            profile = calibration.take_learned()
            if profile is not None:
                log.info(
                    "home %s calibrated from %d samples: enter %.1f dBm, exit %.1f dBm",
                    profile.home_id,
                    profile.samples,
                    profile.enter_rssi,
                    profile.exit_rssi,
                )
                self._dirty = True
        # Counters change with every advert: save them with the rest, at most once per telemetry interval.
        if self._dirty or now - self._last_save >= self.settings.telemetry_interval_s:
            self.save_state(now)

    def save_state(self, now: float | None = None) -> None:
        """Persist profiles, reported state and counters (failures are logged, never fatal)."""
        if self.monitor is None:
            return
        state = EdgeState(
            profiles={h: c.profile for h, c in self.calibrations.items() if c.profile is not None},
            devices={d: t.snapshot() for d, t in self.trackers.items()},
            counters=self.monitor.gate.last_counters(),
            rooms=self.rooms.snapshots() if self.rooms is not None else dict(self._state.rooms),
        )
        try:
            self.state_store.save(state)
        except Exception:
            self._save_failures += 1
            log.exception("could not save the edge state")
            return
        self._state = state
        self._dirty = False
        self._last_save = self._clock.now() if now is None else now
        self.state_saves += 1

    # ---- observability ----------------------------------------------------------------------------------

    def stats(self) -> AgentStats:
        """A snapshot of the agent's counters."""
        monitor, maintainer = self.monitor, self.maintainer
        rooms = self.rooms.stats() if self.rooms is not None else None
        return AgentStats(
            reports=monitor.reports if monitor else 0,
            adverts_accepted=monitor.gate.accepted if monitor else 0,
            duplicates=monitor.gate.duplicates if monitor else 0,
            rejected={r.value: n for r, n in sorted(monitor.gate.rejected.items())} if monitor else {},
            decisions=dict(sorted(monitor.decisions.items())) if monitor else {},
            telemetry_batches=monitor.telemetry_batches if monitor else 0,
            errors=(monitor.errors if monitor else 0) + self._save_failures + (rooms.errors if rooms else 0),
            emit_failures=(monitor.emit_failures if monitor else 0) + (rooms.emit_failures if rooms else 0),
            gatt_sessions_ok=maintainer.sessions_ok if maintainer else 0,
            gatt_sessions_failed=maintainer.sessions_failed if maintainer else 0,
            time_syncs=maintainer.time_syncs if maintainer else 0,
            config_writes=maintainer.config_writes if maintainer else 0,
            calibrated_homes=sum(1 for c in self.calibrations.values() if c.calibrated),
            state_saves=self.state_saves,
            scanning=monitor.scanning if monitor else False,
            room_decisions=rooms.decisions if rooms else {},
            frames_analysed=rooms.frames if rooms else 0,
            detections=rooms.detections if rooms else 0,
            camera_cpu_s=rooms.cpu_s if rooms else 0.0,
            cameras_offline=rooms.offline if rooms else [],
            snapshots=dict(sorted(self.responder.answers.items())) if self.responder else {},
        )


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


async def run_edge(
    settings: EdgeSettings,
    clock: Clock,
    *,
    stop: asyncio.Event | None = None,
    on_decision: Callable[[Decision], None] | None = None,
    on_room_decision: Callable[[RoomDecision], None] | None = None,
    scanner_factory: ScannerFactory | None = None,
    client_factory: ClientFactory | None = None,
    state_store: StateStore | None = None,
    source_opener: SourceOpener | None = None,
) -> AgentStats:
    """Run an edge agent with the real uplink (SQLite outbox + MQTT) until `stop` is set.

    The BLE adapters, the camera sources and the state store default to what the settings say; tests and
    embedders may pass their own.
    """
    # Imported here so that the pure core and the tests never load paho or open a database.
    from gateway.mqtt_uplink import MqttUplink
    from gateway.outbox import Outbox

    stop = stop or asyncio.Event()
    settings.outbox_path.parent.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(settings.outbox_path, clock)
    try:
        uplink = MqttUplink(settings.mqtt, settings.site_id, outbox, clock)
        await _maybe_await(uplink.start())
        try:
            agent = EdgeAgent(
                settings,
                clock,
                uplink,
                scanner_factory=scanner_factory,
                client_factory=client_factory,
                state_store=state_store,
                source_opener=source_opener,
                commands=uplink,
            )
            if on_decision is not None:
                agent.subscribe(on_decision)
            if on_room_decision is not None:
                agent.subscribe_rooms(on_room_decision)
            await agent.run(stop)
            return agent.stats()
        finally:
            await _maybe_await(uplink.stop())
    finally:
        outbox.close()
