"""The world on a manual clock: scheduling, timelines, movement, radio delivery, GATT links."""

from __future__ import annotations

import itertools
import statistics

import pytest

from firmware_sim.bracelet import AttError
from firmware_sim.builders import device_id_of, make_household, make_world, quiet_radio, walk_path
from firmware_sim.households import demo_households_path, load_households
from firmware_sim.radio import RadioModel
from firmware_sim.world import (
    AdvertReport,
    Happening,
    HappeningKind,
    LinkError,
    World,
    ble_address,
    device_id_from_address,
)
from qmon.bracelet import gatt
from qmon.bracelet.advert import COMPANY_ID, decode_manufacturer_data, verify_tag
from qmon.clock import ManualClock


class Recorder:
    """Collects adverts and happenings."""

    def __init__(self, world: World, receivers: list[str] | None = None) -> None:
        self.reports: list[AdvertReport] = []
        self.happenings: list[Happening] = []
        self.stop = world.subscribe(receivers, self.reports.append)
        world.subscribe_happenings(self.happenings.append)

    def kinds(self) -> list[HappeningKind]:
        return [h.kind for h in self.happenings]


def run(world: World, clock: ManualClock, seconds: float, step: float = 0.25) -> None:
    for _ in range(round(seconds / step)):
        clock.advance(step)
        world.step()


def states(reports: list[AdvertReport], world: World) -> list[tuple[float, object]]:
    keys = world.keys()
    out = []
    for r in reports:
        decoded = decode_manufacturer_data(r.manufacturer_data)
        verify_tag(decoded, keys[f"{decoded.state.device_id:08x}"])
        out.append((r.time - world.start, decoded.state))
    return out


def test_addresses_are_static_random_and_carry_the_device_id() -> None:
    address = ble_address(0x0000A001)
    assert address == "C5:1A:00:00:A0:01"
    assert int(address[:2], 16) >> 6 == 0b11  # static random
    assert device_id_from_address(address) == 0xA001
    assert device_id_from_address("AA:BB:CC:DD:EE:FF") is None


def test_each_bracelet_advertises_about_once_a_second_with_jitter() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    rec = Recorder(world)
    run(world, clock, 60)
    times = [r.time for r in rec.reports]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 59 <= len(times) <= 61
    assert all(1.0 <= g <= 1.010 for g in gaps)
    assert len(set(round(g, 4) for g in gaps)) > 10  # the 0-10 ms delay is random


def test_report_fields() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    rec = Recorder(world)
    run(world, clock, 2)
    report = rec.reports[0]
    assert report.address == ble_address(0xA001)
    assert report.local_name == "QB0000a001"
    assert report.service_uuids == (gatt.QUARANTINE_SERVICE,)
    assert report.receiver == "hub-1"
    assert set(report.manufacturer_data) == {COMPANY_ID}
    assert world.start < report.time <= clock.now()
    # hub 1 m from the centre, wearer 2 m from it: 1 m away; noise-free radio gives the measured power
    assert report.rssi == -59


def test_receivers_only_hear_their_own_household() -> None:
    clock = ManualClock()
    world = make_world([make_household(1), make_household(2)], clock)
    only_two = Recorder(world, ["hub-2"])
    run(world, clock, 5)
    assert only_two.reports and {r.receiver for r in only_two.reports} == {"hub-2"}
    with pytest.raises(ValueError, match="unknown receivers"):
        world.subscribe(["hub-9"], lambda r: None)


def test_unsubscribe_stops_delivery() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    rec = Recorder(world)
    run(world, clock, 3)
    count = len(rec.reports)
    rec.stop()
    run(world, clock, 3)
    assert len(rec.reports) == count


def test_timeline_strap_and_skin_contact_reach_the_adverts() -> None:
    clock = ManualClock()
    timeline = [{"t": 10, "strap": "open"}, {"t": 14, "skin_contact": False}, {"t": 30, "strap": "closed"}]
    world = make_world([make_household(1, timeline=timeline)], clock)
    rec = Recorder(world)
    run(world, clock, 40)
    for t, state in states(rec.reports, world):
        assert state.strap_closed == (t < 10 or t >= 30)  # type: ignore[attr-defined]
        assert state.skin_contact == (t < 14)  # type: ignore[attr-defined]
    assert rec.kinds() == [
        HappeningKind.STRAP_OPENED,
        HappeningKind.SKIN_CONTACT_LOST,
        HappeningKind.STRAP_CLOSED,
    ]
    assert [h.elapsed for h in rec.happenings] == [10, 14, 30]


def test_rssi_falls_as_the_wearer_walks_away_and_the_wall_shows() -> None:
    clock = ManualClock()
    path = walk_path((0, 1, 0), (20, 1, 0), (40, 21, 0))  # 1 m from centre, then out to 21 m at 1 m/s
    world = make_world([make_household(1, path=path)], clock)
    rec = Recorder(world)
    run(world, clock, 45)
    by_time = [(r.time - world.start, r.rssi) for r in rec.reports]
    near = [rssi for t, rssi in by_time if t < 20]
    far = [rssi for t, rssi in by_time if t > 38]
    assert statistics.fmean(near) > -50  # right next to the hub
    assert statistics.fmean(far) < -90  # 20 m away behind the wall
    # crossing the wall (6 m from the centre at t=25) costs the 10 dB wall loss at once
    before = [rssi for t, rssi in by_time if 24 < t < 25]
    after = [rssi for t, rssi in by_time if 25 < t < 26]
    assert before and after and before[0] - after[0] >= 10
    assert HappeningKind.LEFT_HOME in rec.kinds()


def test_out_of_range_nothing_arrives() -> None:
    clock = ManualClock()
    path = walk_path((0, 1, 0), (5, 60, 0))
    world = make_world([make_household(1, path=path)], clock)
    rec = Recorder(world)
    run(world, clock, 20)
    assert all(r.time - world.start < 5 for r in rec.reports)
    assert world.adverts_sent > world.adverts_delivered


def test_dropout_window_and_radio_off_silence_the_bracelet() -> None:
    clock = ManualClock()
    timeline = [{"t": 10, "dropout_s": 5}, {"t": 20, "radio": "off"}, {"t": 25, "radio": "on"}]
    world = make_world([make_household(1, timeline=timeline)], clock)
    rec = Recorder(world)
    run(world, clock, 30)
    heard = [r.time - world.start for r in rec.reports]
    assert not [t for t in heard if 10 <= t < 15 or 20 <= t < 25]
    assert [t for t in heard if 15 <= t < 20] and [t for t in heard if t >= 25]
    assert rec.kinds() == [
        HappeningKind.DROPOUT_STARTED,
        HappeningKind.DROPOUT_ENDED,
        HappeningKind.RADIO_OFF,
        HappeningKind.RADIO_ON,
    ]


def test_battery_low_then_dead_then_silent() -> None:
    clock = ManualClock()
    # 3.6 %/min: from 16 % to 15 % at t=16.7 s, to 0 at t=266.7 s
    world = make_world([make_household(1, battery_pct=16, drain_pct_per_hour=216)], clock)
    rec = Recorder(world)
    run(world, clock, 280)
    lows = [(t, s.low_battery) for t, s in states(rec.reports, world)]  # type: ignore[attr-defined]
    assert all(low == (t >= 16.7) for t, low in lows)
    assert max(t for t, _ in lows) < 267
    assert rec.kinds() == [HappeningKind.BATTERY_LOW, HappeningKind.BATTERY_DEAD]
    assert rec.happenings[1].elapsed == pytest.approx(266.7, abs=1.1)


def test_scripted_battery_charging_and_fever() -> None:
    clock = ManualClock()
    timeline = [{"t": 5, "battery": 0}, {"t": 10, "charging": True}, {"t": 12, "fever": True}]
    world = make_world([make_household(1, timeline=timeline, charge_pct_per_hour=3600)], clock)
    rec = Recorder(world)
    run(world, clock, 90)
    kinds = rec.kinds()
    assert kinds[:4] == [
        HappeningKind.BATTERY_SET,
        HappeningKind.BATTERY_DEAD,
        HappeningKind.CHARGING_STARTED,
        HappeningKind.BATTERY_REVIVED,
    ]
    assert HappeningKind.FEVER_STARTED in kinds
    heard = states(rec.reports, world)
    assert not [t for t, _ in heard if 5 <= t < 10]
    late_temps = [s.skin_temp_c for t, s in heard if t > 60]  # type: ignore[attr-defined]
    assert late_temps and min(late_temps) > 37.9


def test_same_seed_same_reports() -> None:
    def record(seed: int) -> list[tuple[float, int, bytes]]:
        clock = ManualClock()
        world = World(load_households(demo_households_path()), RadioModel(), clock, seed)
        rec = Recorder(world)
        run(world, clock, 30, step=0.5)
        return [(r.time, r.rssi, r.manufacturer_data[COMPANY_ID]) for r in rec.reports]

    assert record(5) == record(5)
    assert record(5) != record(6)


def test_advance_to_in_one_jump_equals_small_steps() -> None:
    def record(step: float) -> list[tuple[float, int]]:
        clock = ManualClock()
        world = World(load_households(demo_households_path()), RadioModel(), clock, 2)
        rec = Recorder(world)
        run(world, clock, 100, step=step)
        return [(r.time, r.rssi) for r in rec.reports]

    assert record(100.0) == record(0.1)


def test_a_failing_subscriber_does_not_stop_the_world(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)

    def broken(report: AdvertReport) -> None:
        raise RuntimeError("boom")

    world.subscribe(None, broken)
    rec = Recorder(world)
    run(world, clock, 3)
    assert len(rec.reports) >= 2
    assert "advert subscriber failed" in caplog.text


# ---- GATT links ------------------------------------------------------------------------------------------


def linked_world(path: list[dict[str, float]] | None = None, **bracelet: object) -> tuple[World, ManualClock]:
    clock = ManualClock()
    return make_world([make_household(1, path=path, **bracelet), make_household(2)], clock), clock


def test_connect_read_write_through_a_link() -> None:
    world, clock = linked_world()
    link = world.connect(ble_address(0xA001), "hub-1")
    assert world.is_connected(device_id_of(1)) and link.mtu == 247 and link.name == "QB0000a001"
    assert link.read(gatt.SERIAL_NUMBER) == b"0000a001"
    link.write(gatt.TIME_SYNC, gatt.encode_time(int(clock.now() * 1000)))
    assert world.bracelet(device_id_of(1)).clock_synced
    with pytest.raises(AttError):
        link.write(gatt.CONFIGURATION, b"\x00")
    link.write(gatt.CONFIGURATION, b"\x00", response=False)  # a write command: the error is lost on the air
    link.disconnect()
    assert not link.connected and not world.is_connected(device_id_of(1))
    with pytest.raises(LinkError):
        link.read(gatt.BATTERY_LEVEL)


def test_connect_is_refused_from_another_hub_unknown_address_twice_or_out_of_range() -> None:
    world, clock = linked_world(path=walk_path((0, 1, 0), (2, 80, 0)))
    with pytest.raises(LinkError, match="not in range of receiver hub-2"):
        world.connect(ble_address(0xA001), "hub-2")
    with pytest.raises(LinkError, match="no bracelet"):
        world.connect("C5:1A:00:00:FF:FF", "hub-1")
    world.connect(ble_address(0xA001), "hub-1")
    with pytest.raises(LinkError, match="already connected"):
        world.connect(ble_address(0xA001), "hub-1")
    clock.advance(10)
    world.step()
    with pytest.raises(LinkError, match="out of range"):
        world.connect(ble_address(0xA001), "hub-1")


def test_notifications_flow_on_a_link_and_stop_on_unsubscribe() -> None:
    world, clock = linked_world(timeline=[{"t": 5, "strap": "open"}])
    link = world.connect(ble_address(0xA001), "hub-1")
    statuses: list[gatt.StatusValue] = []
    rates: list[bytes] = []
    link.subscribe(gatt.STATUS, lambda v: statuses.append(gatt.decode_status(v)))
    unsubscribe = link.subscribe(gatt.HEART_RATE_MEASUREMENT, rates.append)
    run(world, clock, 8)
    assert len(statuses) == 1 and not statuses[0].flags & gatt.Flags.STRAP_CLOSED
    assert 6 <= len(rates) <= 8  # once a second while the link is up
    unsubscribe()
    run(world, clock, 3)
    assert len(rates) <= 8


def test_a_link_drops_when_the_wearer_walks_out_of_range() -> None:
    lost: list[str] = []
    world, clock = linked_world(path=walk_path((0, 1, 0), (10, 1, 0), (20, 90, 0)))
    link = world.connect(ble_address(0xA001), "hub-1", on_lost=lost.append)
    rec = Recorder(world)
    run(world, clock, 12)
    assert link.connected
    run(world, clock, 20)
    assert lost == ["out of range"] and not link.connected
    assert HappeningKind.LINK_LOST in rec.kinds()
    # the bracelet kept advertising while connected
    assert [r for r in rec.reports if r.time - world.start < 12]


@pytest.mark.parametrize(
    ("timeline", "reason"),
    [([{"t": 3, "radio": "off"}], "radio off"), ([{"t": 3, "battery": 0}], "battery dead")],
)
def test_a_link_drops_when_the_radio_goes_off_or_the_battery_dies(
    timeline: list[dict[str, object]], reason: str
) -> None:
    lost: list[str] = []
    world, clock = linked_world(timeline=timeline)
    link = world.connect(ble_address(0xA001), "hub-1", on_lost=lost.append)
    run(world, clock, 4)
    assert lost == [reason] and not link.connected


def test_a_link_drains_the_battery_faster() -> None:
    world, clock = linked_world(battery_pct=50, drain_pct_per_hour=0, link_drain_pct_per_hour=360)
    world.connect(ble_address(0xA001), "hub-1")
    run(world, clock, 100)
    assert world.bracelet(device_id_of(1)).battery == pytest.approx(40, abs=0.1)


def test_lookup_helpers() -> None:
    world, clock = linked_world(path=walk_path((0, 1, 0), (10, 3, 4)))
    assert world.receivers == ["hub-1", "hub-2"]
    assert world.address_of(device_id_of(1)) == "C5:1A:00:00:A0:01"
    run(world, clock, 5)
    assert world.position_of(device_id_of(1)) == pytest.approx((2.0, 2.0))
    assert world.elapsed == pytest.approx(5.0)
    assert set(world.keys()) == {device_id_of(1), device_id_of(2)}


def test_quiet_radio_builder_has_no_noise() -> None:
    assert quiet_radio().noise_sigma_db == 0 and quiet_radio(packet_loss=0.5).packet_loss == 0.5


def test_interference_weakens_the_signal_for_its_window_only() -> None:
    clock = ManualClock()
    timeline = [{"t": 10, "interference_db": 12, "for_s": 10}]
    world = make_world([make_household(1, timeline=timeline)], clock)
    rec = Recorder(world)
    run(world, clock, 30)
    by_time = [(r.time - world.start, r.rssi) for r in rec.reports]
    before = {rssi for t, rssi in by_time if t < 10}
    during = {rssi for t, rssi in by_time if 10 <= t < 20}
    after = {rssi for t, rssi in by_time if t >= 20}
    assert len(before) == len(during) == len(after) == 1  # a still wearer on a noise-free radio
    assert before == after and min(before) - min(during) == 12
    assert rec.kinds() == [HappeningKind.INTERFERENCE_STARTED, HappeningKind.INTERFERENCE_ENDED]
    assert rec.happenings[0].detail == "12 dB for 10 s"


def test_a_clock_drift_event_sets_the_drift() -> None:
    clock = ManualClock()
    world = make_world([make_household(1, timeline=[{"t": 5, "clock_drift_ppm": 250}])], clock)
    rec = Recorder(world)
    run(world, clock, 6)
    assert world.bracelet(device_id_of(1)).clock_drift_ppm == 250
    assert rec.kinds() == [HappeningKind.CLOCK_DRIFT_SET] and rec.happenings[0].detail == "250 ppm"


def test_an_injected_fault_applies_now_and_is_a_happening() -> None:
    from firmware_sim.households import RadioEvent, StrapEvent

    lost: list[str] = []
    world, clock = linked_world()
    rec = Recorder(world)
    link = world.connect(ble_address(0xA001), "hub-1", on_lost=lost.append)
    run(world, clock, 3)
    world.inject(device_id_of(1), StrapEvent(t=0, strap="open"))
    world.inject(device_id_of(1), RadioEvent(t=0, radio="off"))
    assert not world.bracelet(device_id_of(1)).strap_closed
    assert lost == ["radio off"] and not link.connected
    kinds = [
        h.kind for h in rec.happenings if h.kind not in (HappeningKind.LINK_UP, HappeningKind.LINK_CLOSED)
    ]
    assert kinds == [HappeningKind.STRAP_OPENED, HappeningKind.RADIO_OFF, HappeningKind.LINK_LOST]
    assert all(h.elapsed == pytest.approx(3.0) for h in rec.happenings[-3:])
    mine = ble_address(0xA001)
    heard = sum(r.address == mine for r in rec.reports)
    run(world, clock, 3)
    assert sum(r.address == mine for r in rec.reports) == heard  # its radio is off
