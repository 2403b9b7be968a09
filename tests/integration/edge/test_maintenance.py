"""GATT maintenance through bleak's public BleakClient facade with a test client backend."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from bleak import BleakClient

from edge.settings import EdgeSettings
from gateway.protocol import EventType
from qmon.bracelet.gatt import BraceletConfig
from qmon.clock import ManualClock
from tests.integration.edge.fakes import FakeBraceletClient, FakePeripheral
from tests.integration.edge.harness import AgentHarness, address_of
from tests.unit.edge.builders import KEYS, T0, make_settings

A1 = 0x0000A001
ID_A1 = "0000a001"


def gatt_settings(**gatt: Any) -> EdgeSettings:
    return make_settings(
        bracelets=[{"device_id": ID_A1, "key": KEYS[A1].hex(), "home_id": "home-a"}],
        gatt={"interval_s": 3600, "status_listen_s": 2, "backoff_min_s": 30, "backoff_max_s": 300, **gatt},
    )


def client_factory(peripheral: FakePeripheral, calls: list[float], clock: ManualClock) -> Any:
    def build(device: Any) -> BleakClient:
        calls.append(clock.now())
        return BleakClient(device, backend=FakeBraceletClient, peripherals={address_of(A1): peripheral})

    return build


async def test_a_bracelet_at_home_gets_time_and_configuration() -> None:
    peripheral = FakePeripheral(config=BraceletConfig(adv_interval_ms=2000, tx_power_dbm=4))
    calls: list[float] = []
    clock = ManualClock(T0)
    harness = AgentHarness(
        gatt_settings(), clock=clock, client_factory=client_factory(peripheral, calls, clock)
    )

    async with harness as h:
        await h.seconds(30, lambda i: h.advert(A1, rssi=-60, clock_synced=False))
        await h.seconds(30, lambda i: h.advert(A1, rssi=-60, clock_synced=True))

    stats = h.agent.stats()
    assert (stats.gatt_sessions_ok, stats.gatt_sessions_failed) == (1, 0)
    assert (stats.time_syncs, stats.config_writes) == (1, 1)
    assert len(calls) == 1 and peripheral.connects == 1 and not peripheral.connected  # disconnected after
    assert peripheral.config == BraceletConfig()  # the settings' configuration
    assert peripheral.device_time_ms is not None and abs(peripheral.device_time_ms / 1000 - calls[0]) < 5
    assert h.agent.maintainer is not None
    info = h.agent.maintainer.info[ID_A1]
    assert info.info["model"] == "QB-1" and info.info["hardware"] is None  # optional characteristic missing
    assert info.battery == 77 and len(info.statuses) == 1
    assert EventType.SIGNAL_LOST not in h.uplink.types()
    assert h.agent.monitor is not None and h.agent.monitor.paused == set()


async def test_failed_sessions_back_off_and_never_stop_the_agent() -> None:
    peripheral = FakePeripheral(fail_connects=2)
    calls: list[float] = []
    clock = ManualClock(T0)
    harness = AgentHarness(
        gatt_settings(), clock=clock, client_factory=client_factory(peripheral, calls, clock)
    )

    async with harness as h:
        await h.seconds(150, lambda i: h.advert(A1, rssi=-60))

    stats = h.agent.stats()
    assert (stats.gatt_sessions_failed, stats.gatt_sessions_ok) == (2, 1)
    assert [round(b - a) for a, b in pairwise(calls)] == [30, 60]  # exponential backoff
    assert stats.time_syncs == 0  # the advert says the clock is synced
    assert stats.adverts_accepted == 150 and stats.errors == 0


async def test_maintenance_only_with_bracelets_at_home_and_a_broken_client_is_survived() -> None:
    calls: list[float] = []

    def broken(device: Any) -> BleakClient:
        calls.append(1.0)
        raise RuntimeError("adapter busy")

    harness = AgentHarness(gatt_settings(), client_factory=broken)

    async with harness as h:
        await h.seconds(40, lambda i: h.advert(A1, rssi=-97))  # far away: never HOME, never connected
        assert calls == []
        await h.seconds(30, lambda i: h.advert(A1, rssi=-55))

    assert calls and h.agent.stats().gatt_sessions_failed == len(calls)
    assert h.agent.stats().adverts_accepted == 70
