"""The BLE monitor: bleak scanner -> decoder -> gate -> trackers -> uplink, plus ticks and telemetry.

Written against bleak's public facade only (`BleakScanner`; the callback gets `BLEDevice` and
`AdvertisementData`); the backend comes from `edge.backends` or, in tests, any `scanner_factory`.

The per-advert path (`on_advertisement`) runs on the event loop for every report the radio hears, so it
does no I/O and allocates little: decode, one HMAC, one dict lookup, a few float operations. Decisions
are rare and are the only thing that reaches the uplink (one SQLite commit each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from edge.backends import ScannerFactory
from edge.decision import Decision
from edge.gate import Admission, AdvertGate
from edge.tracker import BraceletTracker
from edge.waiting import sleep_or_stop
from gateway.protocol import RoomReading, TelemetryMessage, utc_from_timestamp
from gateway.uplink import Uplink
from qmon.clock import Clock

log = logging.getLogger(__name__)

DecisionListener = Callable[[Decision], None]
MAX_READINGS_PER_BATCH = 10_000  # TelemetryMessage's limit
SCANNER_RETRY_MIN_S = 2.0
SCANNER_RETRY_MAX_S = 60.0
_ERROR_LOG_EVERY = 1000  # after the first few, log one callback error in this many


class BraceletMonitor:
    """Runs the scanner and turns what it hears into decisions, telemetry and uplink calls."""

    def __init__(
        self,
        *,
        site_id: str,
        gate: AdvertGate,
        trackers: Mapping[str, BraceletTracker],
        uplink: Uplink,
        clock: Clock,
        scanner_factory: ScannerFactory,
        tick_interval_s: float = 1.0,
        telemetry_interval_s: float = 30.0,
        on_tick: Callable[[float], None] | None = None,
        scan: bool = True,
        rooms: Callable[[float], list[RoomReading]] | None = None,
    ) -> None:
        self.site_id = site_id
        self.gate = gate
        self.trackers = dict(trackers)
        self.devices: dict[str, BLEDevice] = {}  # latest BLEDevice per bracelet, for GATT connections
        self.paused: set[str] = set()  # bracelets in a GATT session: they stop advertising meanwhile
        self._uplink = uplink
        self._clock = clock
        self._scanner_factory = scanner_factory
        self._tick_interval = tick_interval_s
        self._telemetry_interval = telemetry_interval_s
        self._on_tick = on_tick
        self._scan_enabled = scan  # False on a facility box with cameras only: no BLE stack is touched
        self._rooms = rooms  # the camera rooms' readings, sent in the same telemetry batch
        self._listeners: dict[object, DecisionListener] = {}
        self._rejected_at_last_batch: dict[str, int] = {}
        self.scanning = False
        self.reports = 0
        self.decisions: dict[str, int] = {}
        self.telemetry_batches = 0
        self.errors = 0
        self.emit_failures = 0

    # ---- subscriptions ----------------------------------------------------------------------------------

    def subscribe(self, listener: DecisionListener) -> Callable[[], None]:
        """Call `listener` with every decision (after the uplink took it); returns the unsubscribe."""
        token = object()
        self._listeners[token] = listener

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    # ---- the hot path -----------------------------------------------------------------------------------

    def on_advertisement(self, device: BLEDevice, adv: AdvertisementData) -> None:
        """bleak detection callback: one advertisement report. Never raises into the BLE backend."""
        try:
            self.reports += 1
            now = self._clock.now()
            verdict = self.gate.admit_report(device.address, adv.rssi, adv.manufacturer_data, now)
            if type(verdict) is not Admission:
                return  # rejected; the gate counted the reason
            advert = verdict.advert
            device_id = advert.device_id
            self.devices[device_id] = device
            decisions = self.trackers[device_id].observe(advert, now, duplicate=verdict.duplicate)
            if decisions:
                self._emit(decisions)
        except Exception:
            self.errors += 1
            if self.errors <= 10 or self.errors % _ERROR_LOG_EVERY == 0:
                log.exception("advertisement handling failed (%d errors so far)", self.errors)

    # ---- periodic work ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Staleness and dwell checks for every bracelet (paused ones are in a GATT session)."""
        for device_id, tracker in self.trackers.items():
            if device_id in self.paused:
                continue
            decisions = tracker.tick(now)
            if decisions:
                self._emit(decisions)
        if self._on_tick is not None:
            self._on_tick(now)

    def telemetry(self, now: float) -> list[TelemetryMessage]:
        """Telemetry batch(es): one reading per bracelet seen and per camera room, rejections since the
        previous batch."""
        readings = [r for r in (t.reading(now) for t in self.trackers.values()) if r is not None]
        rooms = self._rooms(now) if self._rooms is not None else []
        totals = {reason.value: count for reason, count in self.gate.rejected.items()}
        rejected = {
            reason: count - self._rejected_at_last_batch.get(reason, 0)
            for reason, count in totals.items()
            if count - self._rejected_at_last_batch.get(reason, 0) > 0
        }
        self._rejected_at_last_batch = totals
        time = utc_from_timestamp(now)
        chunks = [
            readings[i : i + MAX_READINGS_PER_BATCH] for i in range(0, len(readings), MAX_READINGS_PER_BATCH)
        ]
        messages = []
        for index, chunk in enumerate(chunks or [[]]):
            messages.append(
                TelemetryMessage(
                    site_id=self.site_id,
                    time=time,
                    readings=chunk,
                    rooms=rooms if index == 0 else [],
                    rejected=rejected if index == 0 else {},
                )
            )
        return messages

    def send_telemetry(self, now: float) -> None:
        """Hand the telemetry batch(es) to the uplink."""
        try:
            for message in self.telemetry(now):
                self._uplink.emit_telemetry(message)
                self.telemetry_batches += 1
        except Exception:
            self.errors += 1
            log.exception("telemetry batch failed")

    # ---- life cycle -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Scan, tick and send telemetry until `stop` is set."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._every(self._tick_interval, self._safe_tick, stop), name="edge-tick")
            group.create_task(
                self._every(self._telemetry_interval, self.send_telemetry, stop), name="edge-telemetry"
            )
            if self._scan_enabled:
                group.create_task(self._scan(stop), name="edge-scan")

    async def _every(self, interval: float, action: Callable[[float], None], stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await sleep_or_stop(self._clock, interval, stop):
                return
            action(self._clock.now())

    def _safe_tick(self, now: float) -> None:
        try:
            self.tick(now)
        except Exception:
            self.errors += 1
            log.exception("tick failed")

    async def _scan(self, stop: asyncio.Event) -> None:
        delay = SCANNER_RETRY_MIN_S
        while not stop.is_set():
            try:
                scanner = self._scanner_factory(self.on_advertisement)
                await scanner.start()
            except Exception as exc:
                # No adapter, BlueZ not running, radio server down: keep ticking (bracelets go stale, which
                # the hub sees) and try again with backoff instead of dying.
                self.errors += 1
                log.error("BLE scanner failed to start: %s; retrying in %.0f s", exc, delay)
                if await sleep_or_stop(self._clock, delay, stop):
                    return
                delay = min(delay * 2, SCANNER_RETRY_MAX_S)
                continue
            self.scanning = True
            log.info("scanning with %s", scanner.backend_id)
            try:
                await stop.wait()
            finally:
                self.scanning = False
                try:
                    await scanner.stop()
                except Exception as exc:
                    log.warning("BLE scanner did not stop cleanly: %s", exc)
            return

    # ---- output -----------------------------------------------------------------------------------------

    def _emit(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            key = decision.type.value
            self.decisions[key] = self.decisions.get(key, 0) + 1
            try:
                self._uplink.emit_event(decision.device_id, decision.type, decision.time, decision.data)
            except Exception:
                # The outbox could not take it (disk full, closed): say so loudly, keep monitoring.
                self.emit_failures += 1
                log.exception("could not queue %s for %s", key, decision.device_id)
            for listener in list(self._listeners.values()):
                try:
                    listener(decision)
                except Exception:
                    log.exception("decision listener failed")

    def stats(self) -> dict[str, Any]:
        """Counters of the monitor (cumulative)."""
        return {
            "reports": self.reports,
            "accepted": self.gate.accepted,
            "duplicates": self.gate.duplicates,
            "rejected": {reason.value: n for reason, n in sorted(self.gate.rejected.items())},
            "decisions": dict(sorted(self.decisions.items())),
            "telemetry_batches": self.telemetry_batches,
            "errors": self.errors,
            "emit_failures": self.emit_failures,
        }
