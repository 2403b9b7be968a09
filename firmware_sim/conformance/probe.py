"""Gathering observations of one bracelet over an HCI transport, through bleak's public API.

The scanner and client are bleak's facades with edge.hci_backend's `hci` backend, so a USB HCI-UART
dongle (`serial:/dev/ttyACM0,1000000`) and the bumble simulator (`serial:/dev/pts/N,...`,
`tcp-client:127.0.0.1:PORT`) are reached the same way the edge agent reaches them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from edge.hci_backend import HciBleakClient, HciBleakScanner
from firmware_sim.conformance.console_link import ConsoleError
from firmware_sim.conformance.gatt_checks import strap_states
from firmware_sim.conformance.observations import (
    AdvertReport,
    AdvertSample,
    CharacteristicInfo,
    GattSnapshot,
    Notification,
    NotificationTrace,
    ReadResult,
    StrapToggle,
)
from qmon.bracelet import gatt
from qmon.bracelet.advert import COMPANY_ID, PAYLOAD_LEN

Clock = Callable[[], float]
QB_NAME_LEN = 10  # "QB" + 8 hex digits


def identify(adv: AdvertisementData, *, strict: bool) -> str | None:
    """The device id a report claims: its `QB<id>` name, else the id field of a 0xFFFF payload.

    `strict` (no device asked for) takes a 0xFFFF payload only at the protocol's full length: many
    development boards advertise under that test company id too.
    """
    name = adv.local_name or ""
    if len(name) == QB_NAME_LEN and name.startswith("QB"):
        return name[2:].lower()
    payload = adv.manufacturer_data.get(COMPANY_ID)
    if payload is not None and len(payload) >= (PAYLOAD_LEN if strict else 5):
        return f"{int.from_bytes(payload[1:5], 'little'):08x}"
    return None


@dataclass
class _Sampler:
    """Locks onto the first report of the wanted bracelet (any, if None), then records its address's."""

    device_id: str | None
    clock: Clock
    device: BLEDevice | None = None
    reports: list[AdvertReport] = field(default_factory=list)
    found: asyncio.Event = field(default_factory=asyncio.Event)
    recording: bool = True

    def on_report(self, device: BLEDevice, adv: AdvertisementData) -> None:
        now = self.clock()
        if not self.recording:
            return
        if self.device is None:
            claimed = identify(adv, strict=self.device_id is None)
            if claimed is None or (self.device_id is not None and claimed != self.device_id):
                return
            self.found.set()
        elif device.address != self.device.address:
            return
        self.device = device
        self.reports.append(
            AdvertReport(
                time=now,
                rssi=adv.rssi,
                manufacturer_data={k: bytes(v) for k, v in adv.manufacturer_data.items()},
                local_name=adv.local_name,
                service_uuids=tuple(u.lower() for u in adv.service_uuids),
            )
        )


async def sample_adverts(
    target: str,
    device_id: str | None,
    duration_s: float,
    discover_timeout_s: float,
    clock: Clock = time.monotonic,
) -> tuple[BLEDevice, AdvertSample] | None:
    """Scan until the bracelet is heard (None if not within `discover_timeout_s`), then record its
    reports for `duration_s` seconds."""
    sampler = _Sampler(device_id, clock)
    scanner = BleakScanner(sampler.on_report, backend=HciBleakScanner, hci_transport=target)
    async with scanner:
        try:
            await asyncio.wait_for(sampler.found.wait(), discover_timeout_s)
        except TimeoutError:
            return None
        started = clock()
        await asyncio.sleep(duration_s)
        sampler.recording = False
    assert sampler.device is not None
    return sampler.device, AdvertSample(sampler.device.address, tuple(sampler.reports), clock() - started)


@dataclass
class GattFindings:
    """Everything one GATT session observed."""

    snapshot: GattSnapshot
    traces: dict[str, NotificationTrace] = field(default_factory=dict)
    strap: StrapToggle | None = None
    status_bound_s: float = 0.0  # the notify bound, plus the bracelet's own period if it stayed in force


ConsoleCommand = Callable[[str], Awaitable[tuple[str, ...]]]
NOTIFIED = (gatt.STATUS, gatt.HEART_RATE_MEASUREMENT)
FAST_STATUS_NOTIFY_S = 1


async def probe_gatt(
    device: BLEDevice,
    *,
    timeout_s: float,
    notify_bound_s: float,
    console: ConsoleCommand | None = None,
    pair: bool = False,
    clock: Clock = time.monotonic,
) -> GattFindings:
    """Connect, discover, read every readable characteristic, subscribe to Status and Heart Rate.

    To see a Status notification within the bound, the session sets the Configuration's status period to
    1 s and writes the original value back before disconnecting; if the write is refused (a real bracelet
    wants an encrypted link: `pair`), the bound grows by the bracelet's own period. With `console`, it also
    opens the strap (AT+STRAP=OPEN) and closes it again, recording the Status notifications that follow.
    """
    client = BleakClient(device, backend=HciBleakClient, timeout=timeout_s, pair=pair)
    try:
        await client.connect()
    except (BleakError, TimeoutError, OSError) as exc:
        return GattFindings(GattSnapshot({}, error=f"cannot connect: {exc}"))
    try:
        return await _session(client, notify_bound_s, console, clock)
    finally:
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await client.disconnect()


async def _session(
    client: BleakClient, bound_s: float, console: ConsoleCommand | None, clock: Clock
) -> GattFindings:
    services: dict[str, dict[str, CharacteristicInfo]] = {}
    chars: dict[str, BleakGATTCharacteristic] = {}
    for service in client.services:
        found = services.setdefault(service.uuid.lower(), {})
        for char in service.characteristics:
            uuid = char.uuid.lower()
            found[uuid] = CharacteristicInfo(
                uuid, frozenset(char.properties), frozenset(d.uuid.lower() for d in char.descriptors)
            )
            chars.setdefault(uuid, char)
    reads: dict[str, ReadResult] = {}
    for uuid, char in chars.items():
        if "read" in char.properties:
            try:
                reads[uuid] = ReadResult(value=bytes(await client.read_gatt_char(char)))
            except (BleakError, TimeoutError) as exc:
                reads[uuid] = ReadResult(error=f"{type(exc).__name__}: {exc}")
    findings = GattFindings(GattSnapshot(services, reads))

    original = reads.get(gatt.CONFIGURATION, ReadResult()).value
    restore = await _speed_up_status(client, chars.get(gatt.CONFIGURATION), original)
    findings.status_bound_s = bound_s
    if restore is None:
        findings.status_bound_s += _status_period_s(original)
    received: dict[str, list[Notification]] = {uuid: [] for uuid in NOTIFIED}
    for uuid in NOTIFIED:
        findings.traces[uuid] = await _subscribe(client, chars.get(uuid), uuid, received[uuid], clock)
    try:
        await _wait_for(lambda: all(received[u] for u in NOTIFIED), max(bound_s, findings.status_bound_s))
        if console is not None:
            findings.strap = await _toggle_strap(console, received[gatt.STATUS], bound_s, clock)
    finally:
        for uuid in NOTIFIED:
            trace = findings.traces[uuid]
            findings.traces[uuid] = NotificationTrace(
                uuid, trace.subscribed_at, tuple(received[uuid]), trace.error
            )
            if trace.error is None and uuid in chars:
                with contextlib.suppress(BleakError, TimeoutError):
                    await client.stop_notify(chars[uuid])
        if restore is not None:
            with contextlib.suppress(BleakError, TimeoutError):
                await client.write_gatt_char(chars[gatt.CONFIGURATION], restore, response=True)
    return findings


async def _speed_up_status(
    client: BleakClient, char: BleakGATTCharacteristic | None, original: bytes | None
) -> bytes | None:
    """Set the status period to 1 s; the value to write back afterwards, or None if it was not changed."""
    if char is None or original is None:
        return None
    try:
        config = gatt.decode_config(original)
    except ValueError:
        return None
    fast = dataclasses.replace(config, status_notify_s=FAST_STATUS_NOTIFY_S)
    try:
        await client.write_gatt_char(char, gatt.encode_config(fast), response=True)
    except (BleakError, TimeoutError):
        return None
    return original


def _status_period_s(config: bytes | None) -> float:
    try:
        return 0.0 if config is None else float(gatt.decode_config(config).status_notify_s)
    except ValueError:
        return 0.0


async def _subscribe(
    client: BleakClient,
    char: BleakGATTCharacteristic | None,
    uuid: str,
    sink: list[Notification],
    clock: Clock,
) -> NotificationTrace:
    started = clock()
    if char is None:
        return NotificationTrace(uuid, started, error="characteristic not found")

    def on_value(_char: BleakGATTCharacteristic, data: bytearray) -> None:
        sink.append(Notification(clock(), bytes(data)))

    try:
        await client.start_notify(char, on_value)
    except (BleakError, TimeoutError) as exc:
        return NotificationTrace(uuid, started, error=f"{type(exc).__name__}: {exc}")
    return NotificationTrace(uuid, started)


async def _toggle_strap(
    console: ConsoleCommand, statuses: list[Notification], bound_s: float, clock: Clock
) -> StrapToggle:
    errors: list[str] = []

    async def send(line: str) -> None:
        try:
            answer = await console(line)
        except ConsoleError as exc:
            errors.append(str(exc))
            return
        if answer[-1:] != ("OK",):
            errors.append(f"{line} answered {list(answer)}")

    opened_at = clock()
    await send("AT+STRAP=OPEN")
    if not errors:
        await _wait_for(lambda: _strap_seen(statuses, opened_at, closed=False), bound_s)
    closed_at = clock()
    await send("AT+STRAP=CLOSED")  # always: leave the bracelet as it was
    await _wait_for(lambda: _strap_seen(statuses, closed_at, closed=True), bound_s)
    window = tuple(n for n in statuses if n.time >= opened_at)
    return StrapToggle(opened_at, closed_at, window, console_error="; ".join(errors) or None)


def _strap_seen(statuses: list[Notification], since: float, *, closed: bool) -> bool:
    return any(state is closed for _, state in strap_states(statuses, since))


async def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    """Poll `condition` until true or `timeout_s` passed (no error: the checks judge what arrived)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
