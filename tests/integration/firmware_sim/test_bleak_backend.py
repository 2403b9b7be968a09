"""The bleak backend over an in-process world, used only through bleak's public BleakScanner/BleakClient."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from firmware_sim.bleak_backend import VirtualBleakClient, VirtualBleakScanner, VirtualDevice, register_world
from firmware_sim.builders import make_household, make_world, walk_path
from firmware_sim.world import World
from qmon.bracelet import gatt
from qmon.bracelet.advert import decode_manufacturer_data, verify_tag
from qmon.clock import ManualClock

# Out of the house from t=20, 30 m away (still heard) from t=50, out of range (90 m) from t=110.
WALKER = walk_path((0, 1, 0), (20, 1, 0), (50, 31, 0), (80, 31, 0), (110, 91, 0))


@dataclass
class Sim:
    world: World
    clock: ManualClock
    radio: str
    seen: list[tuple[BLEDevice, AdvertisementData]] = field(default_factory=list)

    def run(self, seconds: float, step: float = 0.25) -> None:
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.world.step()

    def on_detection(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self.seen.append((device, adv))


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Sim]:
    clock = ManualClock()
    world = make_world(
        [make_household(1, path=WALKER, timeline=[{"t": 30, "strap": "open"}]), make_household(2)], clock
    )
    name = f"test-{request.node.name}"
    unregister = register_world(name, world)
    yield Sim(world, clock, f"inproc:{name}")
    unregister()


@pytest.fixture
async def scanner(sim: Sim) -> AsyncIterator[BleakScanner]:
    scanner = BleakScanner(
        sim.on_detection, backend=VirtualBleakScanner, radio=sim.radio, receivers=["hub-1"]
    )
    await scanner.start()
    yield scanner
    await scanner.stop()


async def test_scanning_delivers_decodable_adverts(sim: Sim, scanner: BleakScanner) -> None:
    sim.run(5)
    assert 4 <= len(sim.seen) <= 6
    keys = sim.world.keys()
    device, adv = sim.seen[-1]
    assert device.address == "C5:1A:00:00:A0:01" and device.name == "QB0000a001"
    assert isinstance(device.details, VirtualDevice) and device.details.receiver == "hub-1"
    assert adv.local_name == "QB0000a001"
    assert adv.service_uuids == [gatt.QUARANTINE_SERVICE]
    assert adv.service_data == {} and adv.tx_power is None
    assert isinstance(adv.rssi, int) and len(adv.platform_data) == 1
    decoded = decode_manufacturer_data(adv.manufacturer_data)
    verify_tag(decoded, keys["0000a001"])
    assert decoded.state.strap_closed
    assert scanner.backend_id == "VirtualBleakScanner"
    assert [d.address for d in scanner.discovered_devices] == ["C5:1A:00:00:A0:01"]


async def test_rssi_falls_when_the_wearer_walks_away(sim: Sim, scanner: BleakScanner) -> None:
    sim.run(48)
    by_time = [(decode_manufacturer_data(a.manufacturer_data).state.counter, a.rssi) for _, a in sim.seen]
    near = [rssi for counter, rssi in by_time if counter < 18]
    far = [rssi for counter, rssi in by_time if counter > 40]
    assert statistics.fmean(near) - statistics.fmean(far) > 30
    states = [decode_manufacturer_data(a.manufacturer_data).state for _, a in sim.seen]
    assert not states[-1].strap_closed  # the timeline opened it at t=30


async def test_stop_and_restart_scanning(sim: Sim, scanner: BleakScanner) -> None:
    sim.run(3)
    await scanner.stop()
    count = len(sim.seen)
    sim.run(3)
    assert len(sim.seen) == count
    await scanner.start()
    assert scanner.discovered_devices == []  # seen devices are cleared on start
    sim.run(3)
    assert len(sim.seen) > count


async def test_service_uuid_filter_and_passive_scanning(sim: Sim) -> None:
    wanted: list[AdvertisementData] = []
    other: list[AdvertisementData] = []
    passive: list[AdvertisementData] = []
    scanners = [
        BleakScanner(
            lambda d, a: wanted.append(a),
            [gatt.QUARANTINE_SERVICE],
            backend=VirtualBleakScanner,
            radio=sim.radio,
        ),
        BleakScanner(
            lambda d, a: other.append(a),
            [gatt.HEART_RATE_SERVICE],
            backend=VirtualBleakScanner,
            radio=sim.radio,
        ),
        BleakScanner(
            lambda d, a: passive.append(a),
            scanning_mode="passive",
            backend=VirtualBleakScanner,
            radio=sim.radio,
        ),
    ]
    for s in scanners:
        await s.start()
    sim.run(4)
    for s in scanners:
        await s.stop()
    assert wanted and {a.local_name for a in wanted} == {"QB0000a001", "QB0000a002"}  # both receivers
    assert other == []
    assert passive and all(a.local_name is None and a.service_uuids == [] for a in passive)


async def test_the_backend_needs_a_radio() -> None:
    with pytest.raises(ValueError, match="radio="):
        BleakScanner(lambda d, a: None, backend=VirtualBleakScanner)
    scanner = BleakScanner(lambda d, a: None, backend=VirtualBleakScanner, radio="inproc:nowhere")
    with pytest.raises(ConnectionError, match="nowhere"):
        await scanner.start()


async def connected_client(
    sim: Sim, scanner: BleakScanner, lost: list[BleakClient] | None = None
) -> BleakClient:
    sim.run(2)
    device = scanner.discovered_devices[0]
    client = BleakClient(device, lost.append if lost is not None else None, backend=VirtualBleakClient)
    await client.connect()
    return client


async def test_connect_discovers_the_gatt_layout(sim: Sim, scanner: BleakScanner) -> None:
    client = await connected_client(sim, scanner)
    try:
        assert client.is_connected and client.name == "QB0000a001" and client.mtu_size == 247
        services = {s.uuid for s in client.services}
        assert {gatt.DEVICE_INFORMATION_SERVICE, gatt.BATTERY_SERVICE, gatt.QUARANTINE_SERVICE} <= services
        status = client.services.get_characteristic(gatt.STATUS)
        assert status is not None and status.properties == ["read", "notify"]
        assert status.service_uuid == gatt.QUARANTINE_SERVICE
        assert [d.uuid for d in status.descriptors] == [gatt.CCCD]
        assert status.max_write_without_response_size == 244
        config = client.services.get_characteristic(gatt.CONFIGURATION)
        assert config is not None and config.properties == ["read", "write"] and config.descriptors == []
    finally:
        await client.disconnect()
    assert not client.is_connected


async def test_read_battery_write_time_and_refused_config(sim: Sim, scanner: BleakScanner) -> None:
    client = await connected_client(sim, scanner)
    try:
        assert gatt.decode_battery_level(bytes(await client.read_gatt_char(gatt.BATTERY_LEVEL))) == 100
        assert await client.read_gatt_char(gatt.SERIAL_NUMBER) == bytearray(b"0000a001")
        now_ms = int(sim.clock.now() * 1000)
        await client.write_gatt_char(gatt.TIME_SYNC, gatt.encode_time(now_ms), response=True)
        assert gatt.decode_time(bytes(await client.read_gatt_char(gatt.TIME_SYNC))) == now_ms
        status = gatt.decode_status(bytes(await client.read_gatt_char(gatt.STATUS)))
        assert status.flags & gatt.Flags.CLOCK_SYNCED
        bad = gatt.encode_config(gatt.BraceletConfig())[:-1] + b"\x7f"  # tx power 127 dBm
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.write_gatt_char(gatt.CONFIGURATION, bad, response=True)
        assert refused.value.code == gatt.ATT_ERROR_INVALID_CONFIGURATION
        with pytest.raises(BleakGATTProtocolError) as not_readable:
            await client.read_gatt_char(gatt.HEART_RATE_MEASUREMENT)
        assert not_readable.value.code == 0x02
        good = gatt.BraceletConfig(adv_interval_ms=500)
        await client.write_gatt_char(gatt.CONFIGURATION, gatt.encode_config(good), response=True)
        assert gatt.decode_config(bytes(await client.read_gatt_char(gatt.CONFIGURATION))) == good
    finally:
        await client.disconnect()


async def test_notifications_arrive(sim: Sim, scanner: BleakScanner) -> None:
    client = await connected_client(sim, scanner)
    statuses: list[gatt.StatusValue] = []
    rates: list[gatt.HeartRateMeasurement] = []
    senders: set[str] = set()

    def on_status(sender: BleakGATTCharacteristic, data: bytearray) -> None:
        senders.add(sender.uuid)
        statuses.append(gatt.decode_status(bytes(data)))

    async def on_rate(sender: BleakGATTCharacteristic, data: bytearray) -> None:
        rates.append(gatt.decode_heart_rate(bytes(data)))

    try:
        await client.start_notify(gatt.STATUS, on_status)
        await client.start_notify(gatt.HEART_RATE_MEASUREMENT, on_rate)
        cccd = client.services.get_characteristic(gatt.STATUS).descriptors[0]  # type: ignore[union-attr]
        assert await client.read_gatt_descriptor(cccd) == bytearray(b"\x01\x00")
        sim.run(12)  # the strap opens at t=30 on the world's clock; we are at ~14 s: not yet
        assert statuses == []
        sim.run(18)
        await asyncio.sleep(0)  # let the async callback's tasks run
        assert len(statuses) == 1 and not statuses[0].flags & gatt.Flags.STRAP_CLOSED
        assert senders == {gatt.STATUS}
        assert len(rates) >= 25
        await client.stop_notify(gatt.STATUS)
        assert await client.read_gatt_descriptor(cccd) == bytearray(b"\x00\x00")
        with pytest.raises(ValueError, match="CCCD"):
            await client.write_gatt_descriptor(cccd, b"\x01\x00")
    finally:
        await client.disconnect()


async def test_link_drops_when_the_wearer_walks_out_of_range(sim: Sim, scanner: BleakScanner) -> None:
    lost: list[BleakClient] = []
    client = await connected_client(sim, scanner, lost)
    sim.run(70)
    assert lost == [] and client.is_connected  # weak but in range at 30 m
    sim.run(40)
    assert lost == [client]
    assert not client.is_connected
    with pytest.raises(BleakError):
        await client.read_gatt_char(gatt.BATTERY_LEVEL)
    await client.disconnect()  # harmless after a loss


async def test_client_by_address_and_refusals(sim: Sim) -> None:
    client = BleakClient("C5:1A:00:00:A0:02", backend=VirtualBleakClient, radio=sim.radio, receiver="hub-2")
    await client.connect()
    assert client.is_connected and client.name == "QB0000a002"
    await client.disconnect()
    wrong_hub = BleakClient(
        "C5:1A:00:00:A0:02", backend=VirtualBleakClient, radio=sim.radio, receiver="hub-1"
    )
    with pytest.raises(BleakDeviceNotFoundError):
        await wrong_hub.connect()
    with pytest.raises(ValueError, match="receiver="):
        BleakClient("C5:1A:00:00:A0:02", backend=VirtualBleakClient, radio=sim.radio)
    only_battery = BleakClient(
        "C5:1A:00:00:A0:02", backend=VirtualBleakClient, radio=sim.radio, receiver="hub-2", services=["180f"]
    )
    await only_battery.connect()
    assert [s.uuid for s in only_battery.services] == [gatt.BATTERY_SERVICE]
    await only_battery.disconnect()
