"""The edge agent end to end at its ports: adverts through bleak's BleakScanner facade with a test backend,
decisions and telemetry into a recording uplink, state across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.decision import Decision
from edge.state import JsonStateStore
from gateway.protocol import EventType, PresenceState
from qmon.bracelet.advert import COMPANY_ID, RejectReason, format_device_id
from tests.integration.edge.fakes import FeedScanner
from tests.integration.edge.harness import AgentHarness, address_of
from tests.unit.edge.builders import KEYS, OTHER_KEY, make_mfr, make_settings

A1, A2, B1 = 0x0000A001, 0x0000A002, 0x0000B001
ID_A1, ID_A2, ID_B1 = (format_device_id(d) for d in (A1, A2, B1))


async def test_adverts_become_telemetry_and_corrupted_ones_are_counted_not_raised() -> None:
    async with AgentHarness(make_settings()) as h:
        assert isinstance(h.feed.scanners[0], FeedScanner)
        genuine = make_mfr(device_id=A1, counter=1000)[COMPANY_ID]

        def each(i: int) -> None:
            h.advert(A1, rssi=-58)
            h.advert(A2, rssi=-66, battery_pct=50)
            if i == 0:
                h.feed.send("11:22:33:44:55:66", -40, {COMPANY_ID: genuine[:12]})  # truncated
                h.feed.send(
                    "11:22:33:44:55:66", -40, {COMPANY_ID: genuine[:-1] + bytes([genuine[-1] ^ 1])}
                )  # tag
                h.feed.send("11:22:33:44:55:66", -40, {0x004C: b"\x02\x15" + bytes(21)})  # a phone
                h.feed.send("11:22:33:44:55:66", -40, {COMPANY_ID: "garbage"})  # a broken backend
                h.feed.send("11:22:33:44:55:66", -40, make_mfr(device_id=0x0000C0DE, key=OTHER_KEY))
            if i == 5:
                h.feed.send(address_of(A1), -58, make_mfr(device_id=A1, counter=2))  # replay of an old advert

        await h.seconds(30, each)

    assert len(h.uplink.telemetry) == 1
    batch = h.uplink.telemetry[0]
    assert batch.site_id == "site-a"
    readings = {r.device_id: r for r in batch.readings}
    assert set(readings) == {ID_A1, ID_A2}  # B1 was never heard: no reading to give
    assert readings[ID_A1].presence is PresenceState.HOME and readings[ID_A1].rssi == -58.0
    assert readings[ID_A2].battery == 50 and readings[ID_A2].adverts == 30
    assert batch.rejected == {
        "truncated": 2,
        "bad_tag": 1,
        "not_bracelet": 1,
        "unknown_device": 1,
        "replayed": 1,
    }
    stats = h.agent.stats()
    assert stats.adverts_accepted == 60 and stats.errors == 0
    assert stats.rejected[RejectReason.TRUNCATED.value] == 2
    # B1 was never heard at all: after the stale timeout the hub is told, with the evidence that it never was
    assert h.uplink.types() == [EventType.SIGNAL_LOST]
    assert h.uplink.events[0].device_id == ID_B1 and h.uplink.events[0].data["never_seen"] is True


async def test_leaving_losing_and_returning_reach_the_uplink_in_order() -> None:
    settings = make_settings(
        bracelets=[{"device_id": ID_A1, "key": KEYS[A1].hex(), "home_id": "home-a"}],
    )
    async with AgentHarness(settings) as h:
        await h.seconds(20, lambda i: h.advert(A1, rssi=-62))
        await h.seconds(60, lambda i: h.advert(A1, rssi=-97))  # walked out: weak but still heard
        assert h.uplink.types() == [EventType.LEFT_HOME]
        await h.seconds(40)  # out of range
        await h.seconds(20, lambda i: h.advert(A1, rssi=-65))  # back

    assert h.uplink.types() == [
        EventType.LEFT_HOME,
        EventType.SIGNAL_LOST,
        EventType.SIGNAL_RESTORED,
        EventType.RETURNED_HOME,
    ]
    assert [e.seq for e in h.uplink.events] == [1, 2, 3, 4]
    left, lost = h.uplink.events[0].data, h.uplink.events[1].data
    assert left["exit_rssi"] == -90 and left["rssi"] < -90
    assert lost["presence"] == "away" and lost["silent_s"] >= 30 and lost["last_battery"] == 80
    assert lost["strap_closed"] is True and lost["exit_rssi"] == -90


async def test_the_agent_keeps_its_calibration_and_reported_state_across_a_restart(tmp_path: Path) -> None:
    settings = make_settings(
        presence={"calibration": {"duration_s": 60, "min_samples": 5, "sample_interval_s": 10}},
    )
    store = JsonStateStore(tmp_path / "state.json")

    def each(i: int, h: AgentHarness) -> None:
        # both wearers move between two rooms every 20 s (15 dB apart); home A is the weaker one
        far = 15 * ((i // 20) % 2)
        h.advert(A1, rssi=-72 - far)
        h.advert(B1, rssi=-45 - far, strap_closed=False)

    async with AgentHarness(settings, store=store) as first:
        await first.seconds(90, lambda i: each(i, first))
        home_a = first.agent.calibrations["home-a"].profile
        home_b = first.agent.calibrations["home-b"].profile
    assert home_a is not None and home_b is not None
    assert home_a.exit_rssi < home_b.exit_rssi - 5  # two homes, two profiles (B's is capped at -80 dBm)
    assert first.uplink.types(ID_B1).count(EventType.STRAP_OPENED) == 1
    assert first.agent.stats().calibrated_homes == 2

    async with AgentHarness(settings, store=JsonStateStore(tmp_path / "state.json")) as second:
        assert second.agent.calibrations["home-a"].profile == home_a
        assert second.agent.calibrations["home-a"].thresholds.calibrated
        second.counters.update(first.counters)
        await second.seconds(5, lambda i: each(i, second))
        # counters persisted: the first agent's last advert replayed to the second is rejected
        second.feed.send(address_of(A1), -75, make_mfr(device_id=A1, counter=first.counters[A1]))
        await second.seconds(1)

    assert second.uplink.types(ID_B1) == []  # the strap was already reported open: not again
    assert second.agent.stats().rejected == {"replayed": 1}


async def test_a_scanner_that_fails_to_start_is_retried_without_stopping_the_agent() -> None:
    attempts: list[int] = []

    def flaky(callback: Any) -> Any:
        attempts.append(1)
        if len(attempts) < 3:
            raise FileNotFoundError("no D-Bus socket (no BlueZ)")
        return real(callback)

    harness = AgentHarness(make_settings(), scanner_factory=flaky)
    from tests.integration.edge.fakes import feed_scanner_factory

    real = feed_scanner_factory(harness.feed)
    async with harness as h:
        await h.seconds(10)
        assert len(attempts) == 3 and h.agent.stats().scanning
        await h.seconds(3, lambda i: h.advert(A1))

    assert h.agent.stats().adverts_accepted == 3


async def test_a_failing_uplink_or_listener_does_not_stop_monitoring() -> None:
    async with AgentHarness(make_settings()) as h:

        def broken_emit(*args: Any) -> Any:
            raise OSError("disk full")

        h.uplink.emit_event = broken_emit  # type: ignore[method-assign, assignment]

        def broken_listener(decision: Decision) -> None:
            raise ZeroDivisionError

        h.agent.subscribe(broken_listener)
        seen: list[Any] = []
        unsubscribe = h.agent.subscribe(seen.append)
        await h.seconds(3, lambda i: h.advert(A1, strap_closed=False))
        unsubscribe()
        await h.seconds(3, lambda i: h.advert(A1, strap_closed=True))

    stats = h.agent.stats()
    assert stats.emit_failures == 2 and stats.decisions == {"strap_closed": 1, "strap_opened": 1}
    assert [d.type for d in seen] == [EventType.STRAP_OPENED]
    assert stats.adverts_accepted == 6
