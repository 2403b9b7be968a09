"""Alert grouping and lifecycle as decided by plan_step (pure): one alert per incident, reopen, clear."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cloud.alerts import plan_step
from cloud.rules import AlertAction, AlertType, Severity
from tests.unit.cloud.builders import at, make_order

ORDER = make_order()
NOW = at(1000)


def action(
    onset: bool = True, active: bool | None = None, late: bool = False, **overrides: Any
) -> AlertAction:
    """A left_home action (critical) with sensible defaults."""
    base = AlertAction(
        AlertType.LEFT_HOME,
        onset,
        onset if active is None else active,
        Severity.CRITICAL,
        "Left home",
        "left home" if onset else "returned home",
        late,
    )
    return replace(base, **overrides)


def opened(**fields: Any) -> dict[str, Any]:
    """The fields of a freshly opened alert, with overrides."""
    step = plan_step(None, action(), ORDER, at(1), NOW)
    assert step is not None
    return {**step.changes, "id": 7, **fields}


def apply(current: dict[str, Any], act: AlertAction, seconds: float) -> tuple[dict[str, Any], str, str]:
    step = plan_step(current, act, ORDER, at(seconds), NOW)
    assert step is not None
    return {**current, **step.changes}, step.timeline_kind, step.change


def test_an_onset_with_nothing_open_opens_an_alert() -> None:
    step = plan_step(None, action(), ORDER, at(1), NOW)
    assert step is not None and (step.timeline_kind, step.change) == ("opened", "opened")
    fields = step.changes
    assert (fields["status"], fields["active"], fields["event_count"]) == ("open", True, 1)
    assert (fields["order_id"], fields["ward_id"], fields["type"], fields["severity"]) == (
        ORDER.order_id,
        ORDER.ward_id,
        "left_home",
        "critical",
    )
    assert fields["first_event_at"] == fields["last_event_at"] == at(1) and fields["opened_at"] == NOW


def test_a_clearance_with_nothing_open_does_nothing() -> None:
    assert plan_step(None, action(onset=False), ORDER, at(1), NOW) is None


def test_repeated_onsets_update_one_alert_instead_of_flooding() -> None:
    alert = opened()
    for i in range(2, 6):
        alert, kind, change = apply(alert, action(), i)
        assert (kind, change) == ("repeated", "updated")
    assert alert["event_count"] == 5 and alert["last_event_at"] == at(5) and alert["first_event_at"] == at(1)


def test_a_clearance_makes_the_alert_inactive_but_keeps_it_open() -> None:
    alert, kind, change = apply(opened(), action(onset=False), 2)
    assert (kind, change) == ("cleared", "cleared")
    assert (alert["status"], alert["active"], alert["event_count"]) == ("open", False, 2)


def test_a_new_onset_after_clearance_on_an_acknowledged_alert_reopens_it() -> None:
    alert = opened(status="acknowledged", acknowledged_by="an", acknowledged_at=NOW, active=False)
    alert, kind, change = apply(alert, action(), 3)
    assert (kind, change) == ("reopened", "reopened")
    assert (alert["status"], alert["active"], alert["acknowledged_by"]) == ("open", True, None)


def test_an_acknowledged_alert_still_active_stays_acknowledged_on_repeats() -> None:
    alert = opened(status="acknowledged", acknowledged_by="an", acknowledged_at=NOW)
    alert, kind, _ = apply(alert, action(), 3)
    assert kind == "repeated" and alert["status"] == "acknowledged"


def test_an_open_inactive_alert_recurs() -> None:
    alert, kind, change = apply(opened(active=False), action(), 3)
    assert (kind, change, alert["active"]) == ("recurred", "updated", True)


def test_a_late_onset_opens_an_inactive_alert_and_a_late_event_only_adds_to_the_timeline() -> None:
    step = plan_step(None, action(active=False, late=True), ORDER, at(1), NOW)
    assert step is not None and step.changes["active"] is False and "already cleared" in step.note
    alert, kind, change = apply(opened(), action(onset=False, active=True, late=True), 0.5)
    assert (kind, change, alert["active"]) == ("late", "updated", True)
    assert alert["first_event_at"] == at(0.5)


def test_severity_only_rises() -> None:
    alert = opened(severity="medium")
    alert, _, _ = apply(alert, action(severity=Severity.LOW), 2)
    assert alert["severity"] == "medium"
    alert, _, _ = apply(alert, action(severity=Severity.CRITICAL), 3)
    assert alert["severity"] == "critical"
