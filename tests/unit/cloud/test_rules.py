"""The rules engine: event types to alert actions, order windows, wrong sites, signal loss, reordering."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cloud.rules import (
    FLAG_NO_ORDER,
    FLAG_OUTSIDE_WINDOW,
    FLAG_WRONG_SITE,
    AlertType,
    Condition,
    Policy,
    Severity,
    SiteStatus,
    classify_signal_loss,
    evaluate,
    evaluate_site_status,
    offline_overdue,
    site_actions,
)
from gateway.protocol import EventType, SiteState
from tests.unit.cloud.builders import T0, Device, at, make_event, make_order

ONSETS = [
    (EventType.LEFT_HOME, AlertType.LEFT_HOME, Severity.CRITICAL),
    (EventType.STRAP_OPENED, AlertType.TAMPER, Severity.CRITICAL),
    (EventType.BRACELET_REMOVED, AlertType.TAMPER, Severity.CRITICAL),
    (EventType.SIGNAL_LOST, AlertType.SIGNAL_LOST, Severity.HIGH),
    (EventType.BATTERY_LOW, AlertType.BATTERY_LOW, Severity.LOW),
    (EventType.FEVER, AlertType.FEVER, Severity.HIGH),
    (EventType.PERSON_ABSENT, AlertType.PERSON_ABSENT, Severity.CRITICAL),
    (EventType.OCCUPANCY_EXCEEDED, AlertType.OCCUPANCY_EXCEEDED, Severity.HIGH),
    (EventType.CAMERA_COVERED, AlertType.CAMERA_FAULT, Severity.HIGH),
    (EventType.CAMERA_DARK, AlertType.CAMERA_FAULT, Severity.HIGH),
    (EventType.CAMERA_FROZEN, AlertType.CAMERA_FAULT, Severity.HIGH),
    (EventType.UNKNOWN_FACE, AlertType.UNKNOWN_FACE, Severity.HIGH),
]
CLEARANCES = [
    (EventType.LEFT_HOME, EventType.RETURNED_HOME, AlertType.LEFT_HOME),
    (EventType.STRAP_OPENED, EventType.STRAP_CLOSED, AlertType.TAMPER),
    (EventType.BRACELET_REMOVED, EventType.BRACELET_WORN, AlertType.TAMPER),
    (EventType.SIGNAL_LOST, EventType.SIGNAL_RESTORED, AlertType.SIGNAL_LOST),
    (EventType.BATTERY_LOW, EventType.BATTERY_OK, AlertType.BATTERY_LOW),
    (EventType.FEVER, EventType.FEVER_CLEARED, AlertType.FEVER),
    (EventType.PERSON_ABSENT, EventType.PERSON_PRESENT, AlertType.PERSON_ABSENT),
    (EventType.OCCUPANCY_EXCEEDED, EventType.OCCUPANCY_NORMAL, AlertType.OCCUPANCY_EXCEEDED),
    (EventType.CAMERA_COVERED, EventType.CAMERA_OK, AlertType.CAMERA_FAULT),
    (EventType.UNKNOWN_FACE, EventType.UNKNOWN_FACE_CLEARED, AlertType.UNKNOWN_FACE),
]


@pytest.mark.parametrize(("event_type", "alert_type", "severity"), ONSETS)
def test_each_onset_opens_its_alert_type(
    event_type: EventType, alert_type: AlertType, severity: Severity
) -> None:
    outcome = Device().send(make_event(event_type))
    (action,) = outcome.actions
    assert (action.alert_type, action.onset, action.active, action.severity) == (
        alert_type,
        True,
        True,
        severity,
    )
    assert action.title and action.summary
    assert outcome.flag is None


@pytest.mark.parametrize(("onset", "clearance", "alert_type"), CLEARANCES)
def test_each_clearance_clears_its_alert_type(
    onset: EventType, clearance: EventType, alert_type: AlertType
) -> None:
    device = Device()
    device.send(make_event(onset, seq=1))
    (action,) = device.send(make_event(clearance, seq=2)).actions
    assert (action.alert_type, action.onset, action.active, action.late) == (alert_type, False, False, False)


def test_every_event_type_is_covered() -> None:
    covered = {e for e, _, _ in ONSETS} | {c for _, c, _ in CLEARANCES}
    assert covered == set(EventType)


def test_a_camera_covered_then_dark_is_one_blind_incident_until_it_sees_again() -> None:
    room = Device()
    (covered,) = room.send(make_event(EventType.CAMERA_COVERED, seq=1, data={"brightness": 12.0})).actions
    (dark,) = room.send(make_event(EventType.CAMERA_DARK, seq=2, data={"brightness": 3.0})).actions
    assert covered.alert_type is dark.alert_type is AlertType.CAMERA_FAULT
    assert dark.onset and dark.active and "brightness 3/255" in dark.summary
    (ok,) = room.send(make_event(EventType.CAMERA_OK, seq=3)).actions
    assert not ok.active and ok.alert_type is AlertType.CAMERA_FAULT


def test_room_onsets_summarise_their_evidence() -> None:
    absent = Device().send(make_event(EventType.PERSON_ABSENT, data={"unseen_s": 61.2}))
    crowded = Device().send(
        make_event(EventType.OCCUPANCY_EXCEEDED, data={"faces": 2, "max_faces": 3, "allowed": 1})
    )
    unknown = Device().send(make_event(EventType.UNKNOWN_FACE, data={"similarity": 0.12, "threshold": 0.36}))
    assert absent.actions[0].summary == "person absent (no face for 61 s)"
    assert crowded.actions[0].summary == "occupancy exceeded (3 faces, 1 allowed)"
    assert unknown.actions[0].summary == "unknown face (best match 0.12 < 0.36)"


def test_tamper_clears_only_when_strap_closed_and_bracelet_worn() -> None:
    device = Device()
    device.send(make_event(EventType.STRAP_OPENED, seq=1))
    device.send(make_event(EventType.BRACELET_REMOVED, seq=2))
    (closed,) = device.send(make_event(EventType.STRAP_CLOSED, seq=3)).actions
    assert closed.alert_type is AlertType.TAMPER and closed.active  # still not worn
    (worn,) = device.send(make_event(EventType.BRACELET_WORN, seq=4)).actions
    assert not worn.active


def test_left_home_summary_carries_the_evidence() -> None:
    (action,) = Device().send(make_event(data={"rssi": -88.5, "exit_rssi": -82.0})).actions
    assert "-88.5" in action.summary and "-82" in action.summary


@pytest.mark.parametrize(
    "when", [T0 - timedelta(hours=2), T0 + timedelta(days=15)], ids=["before start", "after end"]
)
def test_events_outside_the_order_window_open_nothing(when: object) -> None:
    device = Device()
    outcome = device.send(make_event(time=when))  # type: ignore[arg-type]
    assert outcome.actions == () and outcome.flag == FLAG_OUTSIDE_WINDOW
    assert outcome.conditions[Condition.AWAY].active  # the device's state is still followed


def test_device_without_active_order_opens_nothing() -> None:
    outcome = evaluate(make_event(), None, {}, None, Policy())
    assert outcome.actions == () and outcome.flag == FLAG_NO_ORDER
    assert outcome.changed is Condition.AWAY


def test_event_from_another_site_is_flagged_and_changes_nothing() -> None:
    device = Device()
    outcome = device.send(make_event(site_id="home-9999"))
    assert outcome.actions == () and outcome.flag == FLAG_WRONG_SITE
    assert outcome.conditions == {} and outcome.changed is None


def test_signal_loss_with_dead_battery_is_a_depleted_battery_not_a_violation() -> None:
    data = {"last_battery": 4, "rssi_trend_db_per_min": -10.0, "last_rssi": -95.0, "exit_rssi": -82.0}
    (action,) = Device().send(make_event(EventType.SIGNAL_LOST, data=data)).actions
    assert action.alert_type is AlertType.BATTERY_DEPLETED and action.severity is Severity.MEDIUM


@pytest.mark.parametrize(
    "data",
    [
        {"last_battery": 80, "rssi_trend_db_per_min": -6.0, "last_rssi": -70.0},
        {"last_battery": 80, "rssi_trend_db_per_min": 0.0, "last_rssi": -90.0, "exit_rssi": -82.0},
    ],
    ids=["fading trend", "below exit threshold"],
)
def test_signal_fading_before_loss_is_a_probable_exit(data: dict[str, float]) -> None:
    (action,) = Device().send(make_event(EventType.SIGNAL_LOST, data=data)).actions
    assert action.alert_type is AlertType.LEFT_HOME and action.severity is Severity.CRITICAL
    assert action.summary.startswith("signal faded then lost: probable exit")


def test_sudden_signal_loss_is_signal_lost_with_strap_evidence() -> None:
    data = {
        "last_battery": 80,
        "rssi_trend_db_per_min": -0.5,
        "last_rssi": -60.0,
        "exit_rssi": -82.0,
        "strap_closed": False,
        "skin_contact": True,
    }
    (action,) = Device().send(make_event(EventType.SIGNAL_LOST, data=data)).actions
    assert action.alert_type is AlertType.SIGNAL_LOST and action.severity is Severity.HIGH
    assert "strap was open" in action.summary


def test_classification_ignores_non_numeric_evidence() -> None:
    alert_type, _ = classify_signal_loss({"last_battery": True, "rssi_trend_db_per_min": "fast"}, Policy())
    assert alert_type is AlertType.SIGNAL_LOST


def test_signal_restored_clears_the_classified_alert_type() -> None:
    device = Device()
    device.send(make_event(EventType.SIGNAL_LOST, seq=1, data={"rssi_trend_db_per_min": -9.0}))
    (action,) = device.send(make_event(EventType.SIGNAL_RESTORED, seq=2)).actions
    assert action.alert_type is AlertType.LEFT_HOME and not action.active


def test_a_late_clearance_never_overrides_newer_state() -> None:
    device = Device()
    device.send(make_event(EventType.RETURNED_HOME, seq=11))
    outcome = device.send(make_event(EventType.LEFT_HOME, seq=10))
    (action,) = outcome.actions
    assert action.onset and action.late and not action.active  # a left_home alert that is already inactive
    assert outcome.changed is None
    state = outcome.conditions[Condition.AWAY]
    assert (state.active, state.seq) == (False, 11)


def test_a_late_onset_after_its_clearance_keeps_the_condition_cleared_and_vice_versa() -> None:
    device = Device()
    device.send(make_event(EventType.LEFT_HOME, seq=10))
    (action,) = device.send(make_event(EventType.RETURNED_HOME, seq=9)).actions
    assert action.late and action.active  # the newer left_home still holds
    assert device.conditions[Condition.AWAY].seq == 10


def test_severity_comes_from_the_policy() -> None:
    policy = Policy(severities={AlertType.BATTERY_LOW: Severity.HIGH})
    (action,) = Device(policy=policy).send(make_event(EventType.BATTERY_LOW)).actions
    assert action.severity is Severity.HIGH


def test_reclassified_signal_loss_clears_the_previous_type() -> None:
    device = Device()
    device.send(make_event(EventType.SIGNAL_LOST, seq=1, data={"last_battery": 3}))
    outcome = device.send(make_event(EventType.SIGNAL_LOST, seq=2, data={"rssi_trend_db_per_min": -8.0}))
    kinds = {(a.alert_type, a.onset, a.active) for a in outcome.actions}
    assert kinds == {(AlertType.LEFT_HOME, True, True), (AlertType.BATTERY_DEPLETED, False, False)}


def test_hub_offline_without_grace_opens_for_orders_of_the_site_and_clears_when_online() -> None:
    orders = [make_order(), make_order(order_id=2, device_id="0a1b2c3e")]
    offline = SiteStatus(SiteState.OFFLINE, at(60))
    at_once = Policy(hub_offline_grace_s=0)
    apply, actions = evaluate_site_status(offline, SiteStatus(SiteState.ONLINE, at(0)), orders, at_once)
    assert apply and [(o.order_id, a.alert_type, a.active) for o, a in actions] == [
        (1, AlertType.HUB_OFFLINE, True),
        (2, AlertType.HUB_OFFLINE, True),
    ]
    apply, actions = evaluate_site_status(SiteStatus(SiteState.ONLINE, at(120)), offline, orders, at_once)
    assert apply and all(not a.active and not a.onset for _, a in actions)


def test_hub_offline_waits_for_the_grace_period_and_alerts_each_spell_once() -> None:
    policy = Policy(hub_offline_grace_s=90)
    offline = SiteStatus(SiteState.OFFLINE, at(60))
    apply, actions = evaluate_site_status(offline, None, [make_order()], policy)
    assert apply and actions == []  # recorded, not alerted yet
    assert not offline_overdue(offline, False, at(149), policy)
    assert offline_overdue(offline, False, at(150), policy)
    assert not offline_overdue(offline, True, at(500), policy)  # this spell was alerted already
    assert not offline_overdue(SiteStatus(SiteState.ONLINE, at(60)), False, at(500), policy)


def test_an_offline_site_is_worded_by_what_it_is_for_each_order() -> None:
    home, room = make_order(), make_order(order_id=2, device_id=None, room_id="room-101")
    offline = SiteStatus(SiteState.OFFLINE, at(60))
    actions = site_actions(offline, [home, room], Policy())
    assert [a.summary for _, a in actions] == ["home hub went offline", "facility edge box went offline"]


def test_stale_and_repeated_site_status_is_ignored() -> None:
    current = SiteStatus(SiteState.OFFLINE, at(60))
    assert evaluate_site_status(current, current, [make_order()], Policy()) == (False, [])
    older = SiteStatus(SiteState.ONLINE, at(0))
    assert evaluate_site_status(older, current, [make_order()], Policy()) == (False, [])


def test_hub_offline_outside_the_order_window_opens_nothing() -> None:
    order = make_order(ends_at=at(30))
    _, actions = evaluate_site_status(SiteStatus(SiteState.OFFLINE, at(60)), None, [order], Policy())
    assert actions == []


def test_equal_actions_are_shared_but_never_across_policies_with_other_severities() -> None:
    event = make_event(EventType.LEFT_HOME, data={"rssi": -80, "exit_rssi": -75})
    default = evaluate(event, make_order(), {}, None, Policy())
    again = evaluate(
        make_event(EventType.LEFT_HOME, data={"rssi": -80, "exit_rssi": -75}),
        make_order(),
        {},
        None,
        Policy(),
    )
    lenient = Policy(severities={**Policy().severities, AlertType.LEFT_HOME: Severity.LOW})
    other = evaluate(event, make_order(), {}, None, lenient)
    assert default.actions == again.actions and default.actions[0] is again.actions[0]  # immutable: shared
    assert default.actions[0].severity is Severity.CRITICAL and other.actions[0].severity is Severity.LOW
    assert default.actions[0].summary == "left home (RSSI -80 dBm, exit threshold -75 dBm)"
