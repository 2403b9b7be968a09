"""Judging scenarios: alerts in and out of their windows, clearances, events, silence, false alarms."""

from __future__ import annotations

from typing import Any

import pytest

from qmon.scenario.evaluate import SeenAlert, SeenEvent, incidents, judge
from qmon.scenario.model import Scenario

DEVICE, OTHER = "0000aa01", "0000aa02"


def scenario(expect: list[dict[str, Any]], **extra: Any) -> Scenario:
    household = {
        "id": "hh",
        "site_id": "site-a",
        "hub": {"id": "hub-a", "x": 0, "y": 0},
        "home": {"x": 0, "y": 0, "radius_m": 5},
        "bracelets": [{"device_id": DEVICE}, {"device_id": OTHER}],
    }
    return Scenario.model_validate(
        {"name": "t", "duration_s": 300, "households": [household], "expect": expect, **extra}
    )


def alert(t: float, alert_id: int, kind: str, device: str = DEVICE, active: bool = True) -> SeenAlert:
    return SeenAlert(t, alert_id, kind, device, active)


def test_an_alert_in_its_window_passes_and_one_outside_fails() -> None:
    expect = [{"alert": "left_home", "device": DEVICE, "after": 60, "by": 120}]
    (ok,) = judge(scenario(expect), [alert(100, 1, "left_home")], [])
    assert ok.passed and "100.0 s" in ok.detail
    (late,) = judge(scenario(expect), [alert(130, 1, "left_home")], [])
    assert not late.passed and "outside the window" in late.detail
    (early,) = judge(scenario(expect), [alert(30, 1, "left_home")], [])
    assert not early.passed


def test_a_missing_alert_fails_and_says_what_the_edge_decided() -> None:
    expect = [{"alert": "tamper", "device": DEVICE, "by": 120}]
    events = [SeenEvent(70, DEVICE, "strap_opened"), SeenEvent(80, OTHER, "left_home")]
    (verdict,) = judge(scenario(expect, strict=False), [alert(90, 3, "tamper", OTHER)], events)
    assert not verdict.passed
    assert "never arrived" in verdict.detail and "strap_opened at 70.0 s" in verdict.detail
    assert "left_home" not in verdict.detail  # only this bracelet's decisions


def test_clearance_must_come_by_its_deadline() -> None:
    expect = [{"alert": "left_home", "device": DEVICE, "by": 120, "cleared_by": 200}]
    opened = alert(100, 1, "left_home")
    assert judge(scenario(expect), [opened, alert(150, 1, "left_home", active=False)], [])[0].passed
    late = judge(scenario(expect), [opened, alert(250, 1, "left_home", active=False)], [])[0]
    assert not late.passed and "late" in late.detail
    never = judge(scenario(expect), [opened, alert(150, 1, "left_home")], [])[0]
    assert not never.passed and "never cleared" in never.detail


def test_events_are_judged_by_type_device_and_window() -> None:
    expect = [{"event": "returned_home", "device": DEVICE, "after": 100, "by": 200}]
    assert judge(scenario(expect), [], [SeenEvent(150, DEVICE, "returned_home")])[0].passed
    assert not judge(scenario(expect), [], [SeenEvent(150, OTHER, "returned_home")])[0].passed
    assert not judge(scenario(expect), [], [SeenEvent(90, DEVICE, "returned_home")])[0].passed


def test_no_alert_windows_and_devices() -> None:
    expect = [{"no_alert": "signal_lost", "device": DEVICE, "after": 50, "until": 100}]
    assert judge(scenario(expect), [alert(120, 1, "signal_lost")], [])[0].passed  # after the window
    assert judge(scenario(expect), [alert(60, 1, "signal_lost", OTHER)], [])[0].passed  # another bracelet
    failed = judge(scenario(expect), [alert(60, 1, "signal_lost")], [])[0]
    assert not failed.passed and "signal_lost for 0000aa01 at 60.0 s" in failed.detail
    anything = scenario([{"no_alert": "any"}], strict=False)
    assert not judge(anything, [alert(299, 2, "fever", OTHER)], [])[0].passed


def test_strict_scenarios_fail_on_an_alert_nobody_expected() -> None:
    expect = [{"alert": "left_home", "device": DEVICE, "by": 120}]
    seen = [alert(100, 1, "left_home"), alert(110, 2, "battery_low", OTHER)]
    verdicts = judge(scenario(expect), seen, [])
    assert [v.passed for v in verdicts] == [True, False]
    assert verdicts[1].name == f"unexpected alert battery_low for {OTHER}"
    assert all(v.passed for v in judge(scenario(expect, strict=False), seen, []))


def test_incidents_take_the_first_arrival_and_first_clearance() -> None:
    changes = [
        alert(120, 1, "tamper", active=False),
        alert(100, 1, "tamper"),
        alert(130, 1, "tamper"),
        alert(140, 1, "tamper", active=False),
    ]
    (incident,) = incidents(changes)
    assert (incident.opened_t, incident.cleared_t) == (100, 120)


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ([{"alert": "left_home", "device": "0000ffff", "by": 10}], "no bracelet 0000ffff"),
        ([{"alert": "left_home", "device": DEVICE, "by": 400}], "ends after the scenario"),
        ([{"alert": "left_home", "device": DEVICE, "after": 50, "by": 10}], "ends before it starts"),
        ([{"alert": "walked_off", "device": DEVICE, "by": 10}], "alert"),
        ([{"device": DEVICE, "by": 10}], "an expectation needs one of"),
        ([], "at least 1"),
    ],
)
def test_bad_expectations_are_refused_with_a_reason(expect: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scenario(expect)


def test_outages_must_name_a_site_of_the_scenario() -> None:
    with pytest.raises(ValueError, match="outage of unknown site 'elsewhere'"):
        scenario([{"no_alert": "any"}], outages=[{"site": "elsewhere", "t": 10, "for_s": 5}])
