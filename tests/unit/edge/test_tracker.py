"""The per-bracelet tracker: presence + vitals decisions, evidence, telemetry readings, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from edge.calibration import CalibrationPolicy, HomeCalibration
from edge.decision import Decision
from edge.presence import PresencePolicy
from edge.tracker import BraceletTracker, TrackerSnapshot
from gateway.protocol import EventType, PresenceState, Reading
from tests.unit.edge.builders import DEVICE_ID, T0, make_advert, make_tracker


def feed(
    tracker: BraceletTracker, seconds: int, start: float, counter: int, **overrides: Any
) -> tuple[list[Decision], int]:
    decisions: list[Decision] = []
    for i in range(seconds):
        counter += 1
        now = start + i
        decisions += tracker.observe(make_advert(time=now, counter=counter, **overrides), now)
        decisions += tracker.tick(now + 0.5)
    return decisions, counter


def test_decisions_come_addressed_with_presence_before_vitals() -> None:
    tracker = make_tracker(snapshot=TrackerSnapshot(presence=PresenceState.HOME, lost=True))

    decisions = tracker.observe(make_advert(strap_closed=False), T0)

    assert [(d.device_id, d.type) for d in decisions] == [
        (DEVICE_ID, EventType.SIGNAL_RESTORED),
        (DEVICE_ID, EventType.STRAP_OPENED),
    ]


def test_signal_lost_carries_the_evidence_to_tell_tampering_from_failure() -> None:
    tracker = make_tracker()
    counter = 0
    _, counter = feed(tracker, 600, T0, counter, rssi=-70, battery_pct=40)
    _, counter = feed(tracker, 600, T0 + 600, counter, rssi=-70, battery_pct=38)
    _, counter = feed(tracker, 30, T0 + 1200, counter, rssi=-86, battery_pct=37, strap_closed=False)

    lost = [d for t in range(1230, 1300) for d in tracker.tick(T0 + t)]

    assert [d.type for d in lost] == [EventType.SIGNAL_LOST]
    data = lost[0].data
    assert data["last_battery"] == 37 and data["battery_trend_pct_per_h"] == pytest.approx(-9.0, abs=1.0)
    assert data["strap_closed"] is False and data["skin_contact"] is True and data["charging"] is False
    assert data["low_battery"] is False
    assert data["exit_rssi"] == -90 and data["last_rssi"] == pytest.approx(-86, abs=1)
    assert data["silent_s"] == pytest.approx(30, abs=1) and data["presence"] == "home"
    assert "rssi_trend_db_per_min" in data and "last_seen" in data


def test_duplicate_reports_only_add_rssi_samples() -> None:
    tracker = make_tracker()
    tracker.observe(make_advert(rssi=-60, counter=1), T0)

    decisions = tracker.observe(
        make_advert(rssi=-70, counter=1, strap_closed=False), T0 + 0.1, duplicate=True
    )

    assert decisions == []  # the strap flag of a duplicate is not new state
    reading = tracker.reading(T0 + 1)
    assert reading is not None and reading.adverts == 1 and reading.strap_closed is True
    assert reading.rssi == pytest.approx(-65, abs=0.6)


def test_the_telemetry_reading_describes_the_last_advert() -> None:
    tracker = make_tracker()
    assert tracker.reading(T0) is None  # never seen: nothing to report yet

    feed(tracker, 15, T0, 0, rssi=-69, battery_pct=64, heart_rate_bpm=81, skin_temp_c=36.9, charging=True)
    reading = tracker.reading(T0 + 15)

    assert isinstance(reading, Reading)
    assert reading.device_id == DEVICE_ID
    assert reading.time == datetime.fromtimestamp(T0 + 14, UTC)
    assert reading.presence is PresenceState.HOME
    assert reading.rssi == -69.0
    assert reading.distance_m == pytest.approx(10 ** (10 / 25), rel=0.01)  # 10 dB below -59 dBm at 1 m
    assert (reading.battery, reading.heart_rate, reading.skin_temp_c) == (64, 81, 36.9)
    assert (reading.strap_closed, reading.skin_contact, reading.charging) == (True, True, True)
    assert reading.adverts == 15
    again = tracker.reading(T0 + 16)
    assert again is not None and again.adverts == 0  # counted since the previous reading


def test_the_reading_says_unknown_while_the_signal_is_lost() -> None:
    tracker = make_tracker()
    feed(tracker, 15, T0, 0)
    tracker.tick(T0 + 100)

    reading = tracker.reading(T0 + 100)

    assert reading is not None and reading.presence is PresenceState.UNKNOWN


def test_calibration_samples_come_only_from_a_worn_bracelet_not_away() -> None:
    # min_spread_db=0: this test feeds one constant level and is about which samples count
    policy = CalibrationPolicy(duration_s=60.0, min_samples=5, sample_interval_s=10.0, min_spread_db=0.0)
    home = HomeCalibration("home-a", policy, PresencePolicy().default_thresholds)
    worn = make_tracker(calibration=home)
    on_the_table = make_tracker(calibration=home, device_id="0000a002")

    feed(on_the_table, 100, T0, 0, rssi=-40, skin_contact=False, device_id=0x0000A002)
    assert home.samples == 0

    feed(worn, 100, T0, 0, rssi=-75)

    assert home.calibrated and home.samples >= 5
    assert home.thresholds.exit_rssi == pytest.approx(-81, abs=1)
    assert worn.calibration is on_the_table.calibration  # one calibration per home, shared


def test_snapshot_round_trips_what_was_reported() -> None:
    tracker = make_tracker()
    feed(tracker, 20, T0, 0, rssi=-60, strap_closed=False, battery_pct=12)
    snapshot = tracker.snapshot()

    restored = TrackerSnapshot.from_dict(snapshot.to_dict())

    assert restored == snapshot
    assert restored.presence is PresenceState.HOME and restored.lost is False
    assert restored.vitals == {"strap_open": True, "removed": False, "battery_low": True, "fever": False}
