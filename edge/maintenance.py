"""GATT maintenance: now and then, connect to a bracelet at home and keep it in order.

One session: connect, read Device Information and Battery Level, write Time Sync if the bracelet's
advert says its clock is not synced, read the Configuration and write ours if it differs, listen to
Status notifications briefly, disconnect. Bracelets stop advertising while connected, so there is only
ever one session at a time, only with bracelets that are HOME and heard recently, and their staleness
check is paused meanwhile. Failures are logged and retried with exponential backoff; nothing here can
stop the agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bleak.backends.device import BLEDevice
from bleak.exc import BleakCharacteristicNotFoundError

from edge.backends import ClientFactory
from edge.settings import GattSettings
from edge.tracker import BraceletTracker
from edge.waiting import sleep_or_stop
from gateway.protocol import PresenceState
from qmon.bracelet import gatt
from qmon.bracelet.gatt import BraceletConfig, StatusValue
from qmon.clock import Clock

log = logging.getLogger(__name__)

RECENTLY_HEARD_S = 5.0  # connect only to bracelets heard this recently: they are advertising right now
IDLE_POLL_S = 1.0
DISCONNECT_TIMEOUT_S = 5.0

_DIS = {
    "manufacturer": gatt.MANUFACTURER_NAME,
    "model": gatt.MODEL_NUMBER,
    "serial": gatt.SERIAL_NUMBER,
    "hardware": gatt.HARDWARE_REVISION,
    "firmware": gatt.FIRMWARE_REVISION,
}


@dataclass
class DeviceInfo:
    """What the last successful session learned about a bracelet."""

    device_id: str
    maintained_at: float
    info: dict[str, str | None] = field(default_factory=dict)
    battery: int | None = None
    config: BraceletConfig | None = None
    config_written: bool = False
    time_synced: bool = False
    statuses: list[StatusValue] = field(default_factory=list)

    @property
    def clock_offset_s(self) -> float | None:
        """Bracelet clock minus ours at the last Status notification (None without one)."""
        if not self.statuses:
            return None
        return float(self.statuses[-1].device_time) - self.maintained_at


@dataclass
class _Schedule:
    next_due: float
    failures: int = 0


class GattMaintainer:
    """Schedules and runs GATT maintenance sessions, one at a time."""

    def __init__(
        self,
        settings: GattSettings,
        clock: Clock,
        client_factory: ClientFactory,
        trackers: Mapping[str, BraceletTracker],
        devices: Mapping[str, BLEDevice],
        *,
        paused: set[str] | None = None,
        on_session: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.desired = settings.config.to_config()
        self._clock = clock
        self._client_factory = client_factory
        self._trackers = trackers
        self._devices = devices
        self._paused = paused if paused is not None else set()
        self._on_session = on_session
        self._schedule: dict[str, _Schedule] = {}
        self.info: dict[str, DeviceInfo] = {}
        self.sessions_ok = 0
        self.sessions_failed = 0
        self.time_syncs = 0
        self.config_writes = 0

    def next_due(self, now: float) -> str | None:
        """The bracelet to maintain now, if any: unsynced clocks first, then the longest overdue."""
        best: tuple[bool, float, str] | None = None
        for device_id, tracker in self._trackers.items():
            if device_id not in self._devices or tracker.presence_state is not PresenceState.HOME:
                continue
            if tracker.last_time is None or now - tracker.last_time > RECENTLY_HEARD_S:
                continue
            schedule = self._schedule.get(device_id)
            due = now if schedule is None else schedule.next_due
            if due > now:
                continue
            synced = tracker.last_state is not None and tracker.last_state.clock_synced
            key = (synced, due, device_id)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]

    async def run(self, stop: asyncio.Event) -> None:
        """Maintain due bracelets until `stop` is set (does nothing when the interval is 0)."""
        if self.settings.interval_s <= 0:
            return
        while not stop.is_set():
            device_id = self.next_due(self._clock.now())
            if device_id is None:
                if await sleep_or_stop(self._clock, IDLE_POLL_S, stop):
                    return
                continue
            await self.maintain(device_id)

    async def maintain(self, device_id: str) -> bool:
        """Run one session with a bracelet; True on success. Never raises (except cancellation)."""
        started = self._clock.now()
        schedule = self._schedule.setdefault(device_id, _Schedule(next_due=started))
        self._paused.add(device_id)
        try:
            async with asyncio.timeout(self.settings.session_timeout_s):
                info = await self._session(device_id)
        except Exception as exc:
            schedule.failures += 1
            delay = min(
                self.settings.backoff_min_s * 2 ** (schedule.failures - 1), self.settings.backoff_max_s
            )
            schedule.next_due = self._clock.now() + delay
            self.sessions_failed += 1
            log.warning(
                "GATT maintenance of %s failed (%s: %s); retry in %.0f s",
                device_id,
                type(exc).__name__,
                exc,
                delay,
            )
            ok = False
        else:
            schedule.failures = 0
            schedule.next_due = self._clock.now() + self.settings.interval_s
            self.info[device_id] = info
            self.sessions_ok += 1
            log.info(
                "GATT maintenance of %s: battery %s%%, time sync %s, config %s",
                device_id,
                info.battery,
                "written" if info.time_synced else "not needed",
                "written" if info.config_written else "unchanged",
            )
            ok = True
        finally:
            self._paused.discard(device_id)
            tracker = self._trackers.get(device_id)
            if tracker is not None:
                # The session kept the bracelet from advertising: do not let that look like a silence.
                tracker.note_link(self._clock.now())
        if self._on_session is not None:
            self._on_session(device_id, ok)
        return ok

    async def _session(self, device_id: str) -> DeviceInfo:
        device = self._devices[device_id]
        tracker = self._trackers[device_id]
        client = self._client_factory(device)
        try:
            await client.connect()
            info = DeviceInfo(device_id=device_id, maintained_at=self._clock.now())
            for name, uuid in _DIS.items():
                try:
                    raw = await client.read_gatt_char(uuid)
                except BleakCharacteristicNotFoundError:
                    info.info[name] = None  # Device Information characteristics are optional
                    continue
                info.info[name] = bytes(raw).decode("utf-8", errors="replace")
            info.battery = gatt.decode_battery_level(bytes(await client.read_gatt_char(gatt.BATTERY_LEVEL)))
            if tracker.last_state is None or not tracker.last_state.clock_synced:
                now_ms = int(self._clock.now() * 1000)
                await client.write_gatt_char(gatt.TIME_SYNC, gatt.encode_time(now_ms), response=True)
                info.time_synced = True
                self.time_syncs += 1
            current = gatt.decode_config(bytes(await client.read_gatt_char(gatt.CONFIGURATION)))
            info.config = current
            if current != self.desired:
                await client.write_gatt_char(
                    gatt.CONFIGURATION, gatt.encode_config(self.desired), response=True
                )
                info.config = self.desired
                info.config_written = True
                self.config_writes += 1
            if self.settings.status_listen_s > 0:

                def on_status(_char: object, data: bytearray) -> None:
                    try:
                        info.statuses.append(gatt.decode_status(bytes(data)))
                    except ValueError as exc:
                        log.warning("bad Status notification from %s: %s", device_id, exc)

                await client.start_notify(gatt.STATUS, on_status)
                await self._clock.sleep(self.settings.status_listen_s)
                if client.is_connected:
                    await client.stop_notify(gatt.STATUS)
            return info
        finally:
            try:
                await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT_S)
            except Exception as exc:
                log.warning("disconnecting from %s failed: %s", device_id, exc)
