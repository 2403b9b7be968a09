"""The TCP radio server: a bleak scanner and client in this process talking to it over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError

from firmware_sim.bleak_backend import RadioError, VirtualBleakClient, VirtualBleakScanner
from firmware_sim.builders import make_household, make_world, walk_path
from firmware_sim.server import RadioServer
from firmware_sim.world import World
from qmon.bracelet import gatt
from qmon.bracelet.advert import decode_manufacturer_data, verify_tag
from qmon.clock import ManualClock

WALKER = walk_path((0, 1, 0), (30, 1, 0), (60, 91, 0))  # at home for 30 s, then far out of range


class Sim:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.world: World = make_world(
            [make_household(1, path=WALKER, timeline=[{"t": 10, "strap": "open"}]), make_household(2)],
            self.clock,
        )
        self.server = RadioServer(self.world)

    async def run(self, seconds: float, step: float = 0.5) -> None:
        """Advance the world and give the event loop a turn after each step, so pushes flow."""
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.world.step()
            await asyncio.sleep(0)


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait (on the event loop) until `condition` holds; a readable failure otherwise."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    sim = Sim()
    await sim.server.start()
    yield sim
    await sim.server.close()


class RawClient:
    """A hand-written client of the wire protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, line: bytes) -> dict[str, Any]:
        self.writer.write(line)
        await self.writer.drain()
        return await self.next(lambda m: m.get("type") in ("reply",))

    async def request(self, **message: Any) -> dict[str, Any]:
        return await self.send(json.dumps(message).encode() + b"\n")

    async def next(self, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await self.reader.readline())
                if accept(message):
                    return message

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def test_the_server_listens_on_loopback_only(sim: Sim) -> None:
    assert sim.server.url == f"tcp://127.0.0.1:{sim.server.port}"
    with pytest.raises(ValueError, match="loopback"):
        RadioServer(sim.world, host="0.0.0.0")


async def test_scanning_over_tcp(sim: Sim) -> None:
    seen: list[tuple[BLEDevice, AdvertisementData]] = []
    scanner = BleakScanner(
        lambda d, a: seen.append((d, a)),
        backend=VirtualBleakScanner,
        radio=sim.server.url,
        receivers=["hub-1"],
    )
    await scanner.start()
    try:
        await sim.run(5)
        await until(lambda: len(seen) >= 4, "adverts over TCP")
        keys = sim.world.keys()
        for device, adv in seen:
            assert device.address == "C5:1A:00:00:A0:01"
            decoded = decode_manufacturer_data(adv.manufacturer_data)
            verify_tag(decoded, keys["0000a001"])
            assert adv.rssi < 0 and adv.local_name == "QB0000a001"
    finally:
        await scanner.stop()
    count = len(seen)
    await sim.run(3)
    await asyncio.sleep(0.05)
    assert len(seen) == count


async def test_gatt_over_tcp_with_notifications_refusal_and_link_loss(sim: Sim) -> None:
    seen: list[BLEDevice] = []
    scanner = BleakScanner(lambda d, a: seen.append(d), backend=VirtualBleakScanner, radio=sim.server.url)
    await scanner.start()
    await sim.run(2)
    await until(lambda: any(d.address.endswith("A0:01") for d in seen), "bracelet 1 seen")
    await scanner.stop()
    device = next(d for d in seen if d.address.endswith("A0:01"))

    lost = asyncio.Event()
    client = BleakClient(device, lambda c: lost.set(), backend=VirtualBleakClient)
    await client.connect()
    statuses: list[gatt.StatusValue] = []

    def on_status(sender: BleakGATTCharacteristic, data: bytearray) -> None:
        statuses.append(gatt.decode_status(bytes(data)))

    try:
        assert client.is_connected and client.name == "QB0000a001"
        assert client.services.get_characteristic(gatt.TIME_SYNC) is not None
        assert gatt.decode_battery_level(bytes(await client.read_gatt_char(gatt.BATTERY_LEVEL))) == 100
        now_ms = int(sim.clock.now() * 1000)
        await client.write_gatt_char(gatt.TIME_SYNC, gatt.encode_time(now_ms), response=True)
        assert sim.world.bracelet("0000a001").clock_synced
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.write_gatt_char(gatt.CONFIGURATION, b"\x01\x00\x00\x1e\x00\x0f\x00", response=True)
        assert refused.value.code == gatt.ATT_ERROR_INVALID_CONFIGURATION
        await client.start_notify(gatt.STATUS, on_status)
        await sim.run(10)  # the strap opens at t=10
        await until(lambda: len(statuses) >= 1, "status notification over TCP")
        assert not statuses[0].flags & gatt.Flags.STRAP_CLOSED
        await sim.run(60)  # walks out of range
        await until(lost.is_set, "disconnected callback over TCP")
        assert not client.is_connected
    finally:
        await client.disconnect()


async def test_closing_the_connection_releases_the_link(sim: Sim) -> None:
    raw = await RawClient.open(sim.server.port)
    reply = await raw.request(op="connect", id=1, address="C5:1A:00:00:A0:02", receiver="hub-2")
    assert reply["ok"] and reply["result"]["link"] == 1 and reply["result"]["services"]
    assert sim.world.is_connected("0000a002")
    await raw.close()
    await until(lambda: not sim.world.is_connected("0000a002"), "link released")
    client = BleakClient(
        "C5:1A:00:00:A0:02", backend=VirtualBleakClient, radio=sim.server.url, receiver="hub-2"
    )
    await client.connect()
    await client.disconnect()


async def test_bad_input_gets_error_replies_and_the_server_carries_on(sim: Sim) -> None:
    raw = await RawClient.open(sim.server.port)
    try:
        bad_json = await raw.send(b"this is not json\n")
        assert bad_json == {"type": "reply", "id": None, "ok": False, "error": bad_json["error"]}
        assert bad_json["error"]["code"] == "bad_json"
        assert (await raw.send(b"[1, 2, 3]\n"))["error"]["code"] == "bad_json"
        assert (await raw.send(b"\xff\xfe\n"))["error"]["code"] == "bad_json"
        assert (await raw.request(op="fly", id=1))["error"]["code"] == "unknown_op"
        assert (await raw.request(id=2))["error"]["code"] == "unknown_op"
        reply = await raw.request(op="read", id=3)
        assert reply["id"] == 3 and reply["error"]["code"] == "bad_request"
        assert (await raw.request(op="read", id=4, link=9, uuid=gatt.BATTERY_LEVEL))["error"][
            "code"
        ] == "unknown_link"
        assert (await raw.request(op="scan", id=5, receivers="hub-1"))["error"]["code"] == "bad_request"
        assert (await raw.request(op="scan", id=6, receivers=["hub-9"]))["error"][
            "code"
        ] == "unknown_receiver"
        far = await raw.request(op="connect", id=7, address="C5:1A:00:00:FF:FF", receiver="hub-1")
        assert far["error"]["code"] == "link"
        link = (await raw.request(op="connect", id=8, address="C5:1A:00:00:A0:02", receiver="hub-2"))[
            "result"
        ]["link"]
        refused = await raw.request(op="write", id=9, link=link, uuid=gatt.BATTERY_LEVEL, value="00")
        assert refused["error"]["code"] == "att" and refused["error"]["att_error"] == 0x03
        assert (await raw.request(op="write", id=10, link=link, uuid=gatt.TIME_SYNC, value="zz"))["error"][
            "code"
        ] == "bad_request"
        too_long = await raw.send(b'{"op": "hello", "pad": "' + b"x" * 70_000 + b'"}\n')
        assert too_long["error"]["code"] in ("line_too_long", "bad_json")
        hello = await raw.request(op="hello", id=11)
        assert hello["ok"] and hello["result"]["receivers"] == ["hub-1", "hub-2"]
        assert hello["result"]["protocol"] == "qmon-sim-radio/1"
        value = await raw.request(op="read", id=12, link=link, uuid=gatt.SERIAL_NUMBER)
        assert bytes.fromhex(value["result"]["value"]) == b"0000a002"
        assert (await raw.request(op="disconnect", id=13, link=link))["ok"]
    finally:
        await raw.close()
    # and a normal scanner still works after all that
    seen: list[AdvertisementData] = []
    scanner = BleakScanner(lambda d, a: seen.append(a), backend=VirtualBleakScanner, radio=sim.server.url)
    await scanner.start()
    await sim.run(2)
    await until(lambda: bool(seen), "adverts after bad input")
    await scanner.stop()


async def test_raw_scan_pushes_adverts_and_notifications(sim: Sim) -> None:
    raw = await RawClient.open(sim.server.port)
    try:
        assert (await raw.request(op="scan", id=1, receivers=["hub-2"]))["ok"]
        link = (await raw.request(op="connect", id=2, address="C5:1A:00:00:A0:02", receiver="hub-2"))[
            "result"
        ]["link"]
        assert (await raw.request(op="start_notify", id=3, link=link, uuid=gatt.HEART_RATE_MEASUREMENT))["ok"]
        await sim.run(3)
        advert = await raw.next(lambda m: m["type"] == "advert")
        assert advert["receiver"] == "hub-2" and advert["address"] == "C5:1A:00:00:A0:02"
        assert set(advert["mfr"]) == {"65535"}
        notification = await raw.next(lambda m: m["type"] == "notification")
        assert notification["link"] == link and notification["uuid"] == gatt.HEART_RATE_MEASUREMENT
        assert gatt.decode_heart_rate(bytes.fromhex(notification["value"])).skin_contact
    finally:
        await raw.close()


async def test_closing_the_server_disconnects_clients(sim: Sim) -> None:
    lost = asyncio.Event()
    client = BleakClient(
        "C5:1A:00:00:A0:02",
        lambda c: lost.set(),
        backend=VirtualBleakClient,
        radio=sim.server.url,
        receiver="hub-2",
    )
    await client.connect()
    await sim.server.close()
    await until(lost.is_set, "disconnected when the server went away")
    assert not client.is_connected
    await client.disconnect()


async def test_an_unreachable_server_is_a_clear_error(sim: Sim) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        scanner = BleakScanner(
            lambda d, a: None, backend=VirtualBleakScanner, radio=f"tcp://127.0.0.1:{port}"
        )
        with pytest.raises(RadioError, match="cannot reach"):
            await scanner.start()
    client = BleakClient(
        "C5:1A:00:00:A0:01", backend=VirtualBleakClient, radio=sim.server.url, receiver="hub-2", timeout=2
    )
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()
    with pytest.raises(ValueError, match="inproc:NAME"):
        await BleakScanner(lambda d, a: None, backend=VirtualBleakScanner, radio="udp://127.0.0.1:1").start()
