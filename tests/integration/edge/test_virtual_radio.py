"""The edge agent over firmware_sim's simulated world, through its bleak backend chosen by settings.

Nothing here is faked on the edge side: settings say `ble.backend: virtual`, so the agent builds
`BleakScanner(..., backend=VirtualBleakScanner, radio="inproc:NAME", receivers=[hub])` and
`BleakClient(..., backend=VirtualBleakClient)` itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from edge.state import MemoryStateStore
from gateway.protocol import EventType, PresenceState
from qmon.clock import ManualClock
from tests.integration.edge.harness import AgentHarness, settle
from tests.unit.edge.builders import T0, make_settings

bleak_backend = pytest.importorskip("firmware_sim.bleak_backend")
from firmware_sim.households import Household  # noqa: E402
from firmware_sim.radio import RadioModel  # noqa: E402
from firmware_sim.world import World  # noqa: E402

STAYS, LEAVES, OPENS = "0000a001", "0000a002", "0000a003"

HOUSEHOLD = {
    "id": "flat-1",
    "site_id": "site-a",
    "hub": {"id": "hub-1", "x": 0, "y": 0},
    "home": {"x": 0, "y": 0, "radius_m": 8},
    "bracelets": [
        {"device_id": STAYS, "path": [{"t": 0, "x": 3, "y": 1}]},
        {
            "device_id": LEAVES,
            # at home, out of the door to 18 m (weak but heard), then far away (not heard at all)
            "path": [
                {"t": 0, "x": 2, "y": 0},
                {"t": 60, "x": 2, "y": 0},
                {"t": 80, "x": 18, "y": 0},
                {"t": 160, "x": 18, "y": 0},
                {"t": 180, "x": 80, "y": 0},
            ],
        },
        {"device_id": OPENS, "path": [{"t": 0, "x": -2, "y": 2}], "timeline": [{"t": 40, "strap": "open"}]},
    ],
}


@pytest.fixture
def world() -> Iterator[tuple[World, ManualClock, str]]:
    clock = ManualClock(T0)
    world = World([Household.model_validate(HOUSEHOLD)], RadioModel.model_validate({}), clock, seed=7)
    name = f"edge-{uuid.uuid4().hex[:8]}"
    unregister = bleak_backend.register_world(name, world)
    yield world, clock, name
    unregister()


async def test_presence_strap_and_maintenance_over_the_simulated_radio(
    world: tuple[World, ManualClock, str],
) -> None:
    sim, clock, name = world
    settings = make_settings(
        bracelets=[{"device_id": d, "key": k.hex(), "home_id": "flat-1"} for d, k in sim.keys().items()],
        ble={"backend": "virtual", "radio": f"inproc:{name}", "receivers": ["hub-1"]},
        gatt={"interval_s": 3600, "status_listen_s": 1},
    )
    harness = AgentHarness(settings, clock=clock, store=MemoryStateStore(), backends_from_settings=True)

    async with harness as h:
        for _ in range(2600):  # 260 simulated seconds in 0.1 s steps, adverts at their own times
            clock.advance(0.1)
            sim.advance_to(clock.now())
            await settle()

    types = {device: h.uplink.types(device) for device in (STAYS, LEAVES, OPENS)}
    assert types[STAYS] == []
    assert types[OPENS] == [EventType.STRAP_OPENED]
    assert types[LEAVES] == [EventType.LEFT_HOME, EventType.SIGNAL_LOST]
    left = next(e for e in h.uplink.events if e.type is EventType.LEFT_HOME)
    lost = next(e for e in h.uplink.events if e.type is EventType.SIGNAL_LOST)
    assert 100 <= left.time.timestamp() - T0 <= 140 and left.data["rssi"] < -90
    assert lost.data["presence"] == "away" and lost.data["silent_s"] >= 30
    assert h.agent.trackers[STAYS].presence_state is PresenceState.HOME
    stats = h.agent.stats()
    assert stats.errors == 0 and stats.rejected == {} and stats.adverts_accepted > 600
    # the simulated bracelets start with unsynced clocks: the ones at home were synced over GATT
    assert stats.gatt_sessions_ok >= 2 and stats.time_syncs >= 2
    assert sim.bracelet(STAYS).clock_synced
