"""The edge agent over `ble.backend: hci` against simulated bumble bracelets, on a pty and on TCP.

Nothing is faked between the agent and the bracelets: the agent's bleak facade drives edge.hci_backend,
whose bumble host talks HCI over a pty (through pyserial, as to a USB HCI-UART dongle) or TCP to the
simulator's receiver controller, which hears bumble peripherals advertising docs/PROTOCOL.md's bytes
with an RSSI from the radio model. Only the uplink is a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakGATTProtocolError

from edge.agent import EdgeAgent
from edge.backends import client_factory_for, scanner_factory_for
from edge.hci_backend import HciBleakClient
from edge.settings import EdgeSettings
from edge.state import MemoryStateStore
from firmware_sim.bumble.simulator import BumbleSimulator
from qmon.bracelet import gatt
from qmon.bracelet.advert import decode_manufacturer_data, format_device_id, verify_tag
from qmon.bracelet.gatt import BraceletConfig
from qmon.clock import SystemClock
from tests.integration.edge.fakes import FakeUplink
from tests.integration.hil.conftest import FAR, MIDDLE, NEAR

pytestmark = pytest.mark.timeout(30)


@dataclass
class Heard:
    """Every report the agent's scanner delivered, by device id."""

    rssi: dict[str, list[int]] = field(default_factory=dict)
    devices: dict[str, BLEDevice] = field(default_factory=dict)
    counters: dict[str, set[int]] = field(default_factory=dict)

    def record(self, key: bytes, device: BLEDevice, adv: AdvertisementData) -> str:
        decoded = decode_manufacturer_data(adv.manufacturer_data)  # the one codec, as the edge uses it
        verify_tag(decoded, key)
        device_id = format_device_id(decoded.state.device_id)
        self.rssi.setdefault(device_id, []).append(adv.rssi)
        self.devices[device_id] = device
        self.counters.setdefault(device_id, set()).add(decoded.state.counter)
        return device_id

    def mean(self, device_id: str, last: int | None = None) -> float:
        values = self.rssi[device_id]
        return statistics.fmean(values[-last:] if last else values)


def settings_for(sim: BumbleSimulator, hci_transport: str) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "site_id": "site-hil",
            "bracelets": [{"device_id": d, "key": k.hex()} for d, k in sim.keys().items()],
            "ble": {"backend": "hci", "hci_transport": hci_transport},
            "gatt": {"interval_s": 0},
        }
    )


@contextlib.asynccontextmanager
async def running_agent(settings: EdgeSettings, heard: Heard) -> AsyncIterator[EdgeAgent]:
    """The edge agent with the scanner its settings choose, a tap on what that scanner delivers."""
    keys = {b.device_id: b.key_bytes() for b in settings.bracelets}
    build_scanner = scanner_factory_for(settings.ble)

    def tapped(callback: Callable[[BLEDevice, AdvertisementData], None]) -> Any:
        def both(device: BLEDevice, adv: AdvertisementData) -> None:
            heard.record(keys[_device_id_of(adv)], device, adv)
            callback(device, adv)

        return build_scanner(both)

    agent = EdgeAgent(
        settings,
        SystemClock(),
        FakeUplink(settings.site_id),
        scanner_factory=tapped,
        state_store=MemoryStateStore(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        yield agent
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def _device_id_of(adv: AdvertisementData) -> str:
    return format_device_id(decode_manufacturer_data(adv.manufacturer_data).state.device_id)


async def wait_until(condition: Callable[[], bool], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_agent_over_pty_hears_modelled_rssi_that_follows_distance(simulator: BumbleSimulator) -> None:
    port = await simulator.open_hci("pty")
    assert port.host_spec.startswith("serial:/dev/pts/")
    heard = Heard()
    near, middle, far = (format_device_id(d) for d in (NEAR, MIDDLE, FAR))

    async with running_agent(settings_for(simulator, port.host_spec), heard) as agent:
        await wait_until(lambda: all(len(heard.rssi.get(d, [])) >= 6 for d in (near, middle, far)), 10)
        monitor = agent.monitor
        assert monitor is not None and monitor.gate.accepted > 0
        assert dict(monitor.gate.rejected) == {}
        # the radio model, not bumble's fixed -50: 1 m ~ -59, 5 m ~ -76, 15 m ~ -88 dBm
        assert heard.mean(near) > heard.mean(middle) + 8 > heard.mean(far) + 16
        assert -66 < heard.mean(near) < -52
        assert len(set(heard.rssi[near] + heard.rssi[far])) > 2
        # each advertising event carries a new counter (the bracelet refreshes after every event)
        assert len(heard.counters[near]) >= len(heard.rssi[near]) - 2
        # the scan response came through too: name and the quarantine service UUID
        assert heard.devices[near].name == "QB" + near

        before = len(heard.rssi[near])
        simulator.move(near, x=20.0, y=0.0)
        await wait_until(lambda: len(heard.rssi[near]) >= before + 6, 10)
        assert heard.mean(near, last=4) < heard.mean(near) - 10  # 20 m away now

        tracker = agent.trackers[near]
        assert tracker.last_state is not None and tracker.last_state.strap_closed


async def test_gatt_session_over_pty_gets_status_notifications(simulator: BumbleSimulator) -> None:
    port = await simulator.open_hci("pty")
    settings = settings_for(simulator, port.host_spec)
    heard = Heard()
    near = format_device_id(NEAR)

    async with running_agent(settings, heard):
        await wait_until(lambda: near in heard.devices, 10)
        # the client the agent's maintenance would build, sharing the scanner's HCI host
        client = client_factory_for(settings.ble, timeout=10)(heard.devices[near])
        statuses: list[gatt.StatusValue] = []
        async with client:
            serial = await client.read_gatt_char(gatt.SERIAL_NUMBER)
            assert serial.decode() == near
            await client.write_gatt_char(
                gatt.CONFIGURATION, gatt.encode_config(BraceletConfig(status_notify_s=1)), response=True
            )
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.write_gatt_char(gatt.CONFIGURATION, b"\x01", response=True)
            assert refused.value.code == gatt.ATT_ERROR_INVALID_LENGTH
            await client.start_notify(gatt.STATUS, lambda _c, data: statuses.append(gatt.decode_status(data)))
            await wait_until(lambda: len(statuses) >= 2, 8)
            await client.stop_notify(gatt.STATUS)
        assert statuses[0].flags & 0x01  # strap closed
        assert statuses[-1].counter >= statuses[0].counter
        assert not client.is_connected
        # the bracelet advertises again after the link is gone
        before = len(heard.rssi[near])
        await wait_until(lambda: len(heard.rssi[near]) > before, 5)


async def test_link_out_of_range_times_out_and_the_bracelet_advertises_again(
    simulator: BumbleSimulator,
) -> None:
    port = await simulator.open_hci("pty")
    settings = settings_for(simulator, port.host_spec)
    heard = Heard()
    middle = format_device_id(MIDDLE)

    async with running_agent(settings, heard):
        await wait_until(lambda: middle in heard.devices, 10)
        lost = asyncio.Event()
        client = BleakClient(
            heard.devices[middle],
            disconnected_callback=lambda _client: lost.set(),
            backend=HciBleakClient,
            timeout=10,
        )
        await client.connect()
        assert client.is_connected
        simulator.move(middle, x=500.0, y=0.0)
        async with asyncio.timeout(4):  # supervision timeout 1 s, checked every 0.5 s
            await lost.wait()
        assert not client.is_connected
        assert simulator.link.stats.links_timed_out == 1

        simulator.move(middle, x=5.0, y=0.0)
        before = len(heard.rssi[middle])
        await wait_until(lambda: len(heard.rssi[middle]) > before, 5)


async def test_agent_over_tcp_hears_every_bracelet(simulator: BumbleSimulator) -> None:
    port = await simulator.open_hci("tcp:0")
    assert port.host_spec.startswith("tcp-client:127.0.0.1:")
    heard = Heard()

    async with running_agent(settings_for(simulator, port.host_spec), heard) as agent:
        await wait_until(lambda: len(heard.rssi) == 3 and min(map(len, heard.rssi.values())) >= 4, 10)
        assert agent.monitor is not None and agent.monitor.gate.accepted >= 12
        assert heard.mean(format_device_id(NEAR)) > heard.mean(format_device_id(FAR)) + 15

        far = format_device_id(FAR)
        simulator.move(far, x=500.0, y=0.0)  # far below the receiver's sensitivity: dropped on the link
        await asyncio.sleep(0.3)
        before, lost_before = len(heard.rssi[far]), simulator.link.stats.lost
        await asyncio.sleep(1.5)
        assert len(heard.rssi[far]) == before
        assert simulator.link.stats.lost >= lost_before + 4


async def test_edge_receives_at_least_95_percent_of_adverts_delivered_in_range() -> None:
    """100 bracelets at 2 Hz with the default radio (fading, 5 % loss): what the link delivered to the
    receiver, the agent's scanner reports (the issue's benchmark criterion, at a test's scale)."""
    sim = BumbleSimulator.build(100, seed=3, adv_interval_ms=500)
    heard = Heard()
    async with sim:
        port = await sim.open_hci("tcp:0")
        async with running_agent(settings_for(sim, port.host_spec), heard):
            await wait_until(lambda: len(heard.rssi) == 100, 10)
            reports0 = sum(map(len, heard.rssi.values()))
            delivered0 = sim.link.stats.delivered
            await asyncio.sleep(3)
            delivered = sim.link.stats.delivered - delivered0
            await asyncio.sleep(0.3)  # what was on its way when we stopped counting
            reports = sum(map(len, heard.rssi.values())) - reports0
    assert delivered > 500
    assert reports >= 0.95 * delivered
    assert sim.link.stats.lost > 0  # the model's loss and fading are on


async def test_a_configuration_write_changes_the_advertising_interval(simulator: BumbleSimulator) -> None:
    port = await simulator.open_hci("pty")
    settings = settings_for(simulator, port.host_spec)
    heard = Heard()
    near = format_device_id(NEAR)

    async def adverts_in(seconds: float) -> int:
        before = len(heard.rssi[near])
        await asyncio.sleep(seconds)
        return len(heard.rssi[near]) - before

    async with running_agent(settings, heard):
        await wait_until(lambda: near in heard.devices, 10)
        assert await adverts_in(2.0) >= 6  # every 250 ms
        client = client_factory_for(settings.ble, timeout=10)(heard.devices[near])
        async with client:
            config = gatt.decode_config(await client.read_gatt_char(gatt.CONFIGURATION))
            assert config.adv_interval_ms == 250
            new = BraceletConfig(adv_interval_ms=1000, status_notify_s=config.status_notify_s)
            await client.write_gatt_char(gatt.CONFIGURATION, gatt.encode_config(new), response=True)
        advertising = simulator.peripherals[near].device.legacy_advertising_set
        assert advertising is not None
        await wait_until(
            lambda: advertising.advertising_parameters.primary_advertising_interval_min == 1000, 5
        )
        await wait_until(lambda: advertising.enabled, 5)
        assert await adverts_in(4.0) <= 6  # every second from now on (at most 5, give or take a boundary)
