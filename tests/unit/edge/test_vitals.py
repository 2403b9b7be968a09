"""Vitals detectors: strap, wear (debounced), battery (hysteresis), fever (sustained)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.vitals import (
    BatteryDetector,
    FeverDetector,
    Finding,
    StrapDetector,
    VitalsDetectors,
    VitalsPolicy,
    WearDetector,
)
from gateway.protocol import EventType
from tests.unit.edge.builders import DEVICE_ID, T0, make_state

POLICY = VitalsPolicy()


def types(findings: list[Finding]) -> list[EventType]:
    return [kind for kind, _ in findings]


# ---- strap ----------------------------------------------------------------------------------------------


def test_strap_transitions_are_reported() -> None:
    strap = StrapDetector()

    assert strap.observe(make_state(strap_closed=True), T0) == []
    opened = strap.observe(make_state(strap_closed=False), T0 + 1)
    assert strap.observe(make_state(strap_closed=False), T0 + 2) == []
    closed = strap.observe(make_state(strap_closed=True), T0 + 3)

    assert types(opened) == [EventType.STRAP_OPENED] and opened[0][1]["first_sight"] is False
    assert types(closed) == [EventType.STRAP_CLOSED]


def test_a_strap_already_open_at_first_sight_is_reported() -> None:
    findings = StrapDetector().observe(make_state(strap_closed=False, skin_contact=False), T0)

    assert types(findings) == [EventType.STRAP_OPENED]
    assert findings[0][1]["first_sight"] is True and findings[0][1]["skin_contact"] is False


def test_a_strap_reported_open_before_a_restart_is_closed_not_reopened() -> None:
    strap = StrapDetector(reported_open=True)

    assert strap.observe(make_state(strap_closed=False), T0) == []
    assert types(strap.observe(make_state(strap_closed=True), T0 + 1)) == [EventType.STRAP_CLOSED]


# ---- wear -----------------------------------------------------------------------------------------------


def test_removal_needs_the_debounce_time_without_skin_contact() -> None:
    wear = WearDetector(POLICY)
    findings: list[tuple[float, Finding]] = []
    for i in range(15):
        findings += [(T0 + i, f) for f in wear.observe(make_state(skin_contact=False), T0 + i)]

    assert [(t, kind) for t, (kind, _) in findings] == [(T0 + 10, EventType.BRACELET_REMOVED)]
    assert findings[0][1][1]["no_contact_s"] == 10.0
    assert types(wear.observe(make_state(skin_contact=True), T0 + 20)) == [EventType.BRACELET_WORN]


def test_flickering_contact_is_not_a_removal() -> None:
    wear = WearDetector(POLICY)
    findings: list[Finding] = []
    for i in range(120):
        findings += wear.observe(make_state(skin_contact=i % 8 != 0 and i % 8 > 3), T0 + i)  # off 4 s of 8

    assert findings == []


# ---- battery --------------------------------------------------------------------------------------------


def test_battery_low_and_ok_with_hysteresis() -> None:
    battery = BatteryDetector(POLICY)
    levels = [30, 16, 15, 16, 18, 15, 19, 20, 19, 15]
    seen = []
    for i, pct in enumerate(levels):
        seen += [(pct, kind) for kind, _ in battery.observe(make_state(battery_pct=pct), T0 + i)]

    assert seen == [(15, EventType.BATTERY_LOW), (20, EventType.BATTERY_OK), (15, EventType.BATTERY_LOW)]


def test_charging_counts_as_ok() -> None:
    battery = BatteryDetector(POLICY)
    battery.observe(make_state(battery_pct=5), T0)

    findings = battery.observe(make_state(battery_pct=6, charging=True), T0 + 1)

    assert types(findings) == [EventType.BATTERY_OK] and findings[0][1]["charging"] is True
    assert battery.observe(make_state(battery_pct=3, charging=True), T0 + 2) == []


def test_the_low_battery_flag_stands_in_for_an_unknown_level() -> None:
    battery = BatteryDetector(POLICY)

    assert types(battery.observe(make_state(battery_pct=None, low_battery=True), T0)) == [
        EventType.BATTERY_LOW
    ]
    assert types(battery.observe(make_state(battery_pct=None, low_battery=False), T0 + 1)) == [
        EventType.BATTERY_OK
    ]


# ---- fever ----------------------------------------------------------------------------------------------


def feed_temps(
    fever: FeverDetector, temps: Sequence[float | None], start: float = T0, **state: Any
) -> list[tuple[float, EventType, dict[str, Any]]]:
    out = []
    for i, temp in enumerate(temps):
        out += [
            (start + 10 * i, kind, data)
            for kind, data in fever.observe(make_state(skin_temp_c=temp, **state), start + 10 * i)
        ]
    return out


def test_fever_must_be_sustained() -> None:
    fever = FeverDetector(POLICY)

    spike = feed_temps(fever, [38.2] * 20 + [36.8] + [38.0] * 20)  # 200 s, a dip, 200 s: never 300 s
    assert spike == []

    sustained = feed_temps(fever, [38.0, 38.4, 38.1] * 11, start=T0 + 1000)

    assert [kind for _, kind, _ in sustained] == [EventType.FEVER]
    time, _, data = sustained[0]
    assert time == T0 + 1300 and data["sustained_s"] == 300.0 and data["peak_c"] == 38.4


def test_fever_clears_below_the_lower_threshold_only() -> None:
    fever = FeverDetector(POLICY, reported_fever=True)

    between = feed_temps(fever, [37.2] * 30)  # below 37.5 but not below 37.0
    cleared = feed_temps(fever, [36.7] * 15, start=T0 + 400)

    assert between == []
    assert [(t, kind) for t, kind, _ in cleared] == [(T0 + 520, EventType.FEVER_CLEARED)]


def test_readings_without_skin_contact_do_not_count() -> None:
    fever = FeverDetector(POLICY)

    assert feed_temps(fever, [39.0] * 40, skin_contact=False) == []


# ---- all together ---------------------------------------------------------------------------------------


def test_detectors_make_addressed_decisions_and_a_snapshot() -> None:
    vitals = VitalsDetectors(DEVICE_ID, POLICY)

    decisions = vitals.observe(make_state(strap_closed=False, battery_pct=10), T0)

    assert [(d.device_id, d.type, d.time) for d in decisions] == [
        (DEVICE_ID, EventType.STRAP_OPENED, T0),
        (DEVICE_ID, EventType.BATTERY_LOW, T0),
    ]
    assert vitals.snapshot() == {"strap_open": True, "removed": False, "battery_low": True, "fever": False}
    restored = VitalsDetectors(DEVICE_ID, POLICY, vitals.snapshot())
    assert restored.observe(make_state(strap_closed=False, battery_pct=10), T0 + 5) == []
