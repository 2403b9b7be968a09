"""Judging a scenario: what the officer's feed and the edge agent showed, against the expectations. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from qmon.scenario.model import AlertExpectation, EventExpectation, NoAlertExpectation, Scenario


@dataclass(frozen=True, slots=True)
class SeenAlert:
    """One change of an alert as the officer's live feed delivered it, `t` simulated seconds in."""

    t: float
    alert_id: int
    type: str
    device_id: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class SeenEvent:
    """One event the edge agent decided, `t` simulated seconds in."""

    t: float
    device_id: str
    type: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """One expectation (or one unexpected alert) judged: passed or not, and what was seen."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Incident:
    """An alert as a whole: when it first reached the officer, and when its condition first cleared."""

    alert_id: int
    type: str
    device_id: str | None
    opened_t: float
    cleared_t: float | None


def incidents(changes: Iterable[SeenAlert]) -> list[Incident]:
    """The alerts in the order they first reached the feed, each with its first clearance."""
    first: dict[int, SeenAlert] = {}
    cleared: dict[int, float] = {}
    for change in sorted(changes, key=lambda c: c.t):
        first.setdefault(change.alert_id, change)
        if not change.active:
            cleared.setdefault(change.alert_id, change.t)
    return [
        Incident(c.alert_id, c.type, c.device_id, c.t, cleared.get(c.alert_id))
        for c in sorted(first.values(), key=lambda c: (c.t, c.alert_id))
    ]


def judge(scenario: Scenario, alerts: Sequence[SeenAlert], events: Sequence[SeenEvent]) -> list[Verdict]:
    """A verdict per expectation, then one failed verdict per unexpected alert (strict scenarios)."""
    seen = incidents(alerts)
    verdicts: list[Verdict] = []
    for expectation in scenario.expect:
        if isinstance(expectation, AlertExpectation):
            verdicts.append(_judge_alert(expectation, seen, events))
        elif isinstance(expectation, EventExpectation):
            verdicts.append(_judge_event(expectation, events))
        else:
            verdicts.append(_judge_no_alert(expectation, seen, scenario.duration_s))
    if scenario.strict:
        named = {(e.alert.value, e.device) for e in scenario.expect if isinstance(e, AlertExpectation)}
        for incident in seen:
            if (incident.type, incident.device_id) not in named:
                verdicts.append(
                    Verdict(
                        f"unexpected alert {incident.type} for {incident.device_id or 'a room'}",
                        False,
                        f"a false alarm: #{incident.alert_id} reached the officer at "
                        f"{incident.opened_t:.1f} s and no expectation names it",
                    )
                )
    return verdicts


def _judge_alert(
    expectation: AlertExpectation, seen: Sequence[Incident], events: Sequence[SeenEvent]
) -> Verdict:
    name = expectation.describe()
    matching = [i for i in seen if i.type == expectation.alert.value and i.device_id == expectation.device]
    in_time = [i for i in matching if expectation.after <= i.opened_t <= expectation.by]
    if not in_time:
        if matching:
            when = ", ".join(f"{i.opened_t:.1f} s" for i in matching)
            return Verdict(name, False, f"it arrived outside the window, at {when}")
        decided = [f"{e.type} at {e.t:.1f} s" for e in events if e.device_id == expectation.device]
        return Verdict(
            name,
            False,
            "it never arrived; the edge decided "
            + ("; ".join(decided[:8]) if decided else "nothing about this bracelet"),
        )
    incident = in_time[0]
    detail = f"#{incident.alert_id} arrived at {incident.opened_t:.1f} s"
    if expectation.cleared_by is None:
        return Verdict(name, True, detail)
    if incident.cleared_t is not None and incident.cleared_t <= expectation.cleared_by:
        return Verdict(name, True, f"{detail}, cleared at {incident.cleared_t:.1f} s")
    if incident.cleared_t is None:
        return Verdict(name, False, f"{detail} and its condition never cleared")
    return Verdict(name, False, f"{detail} and its condition cleared late, at {incident.cleared_t:.1f} s")


def _judge_event(expectation: EventExpectation, events: Sequence[SeenEvent]) -> Verdict:
    name = expectation.describe()
    matching = [e for e in events if e.type == expectation.event.value and e.device_id == expectation.device]
    in_time = [e for e in matching if expectation.after <= e.t <= expectation.by]
    if in_time:
        return Verdict(name, True, f"decided at {in_time[0].t:.1f} s")
    if matching:
        return Verdict(
            name, False, "decided outside the window, at " + ", ".join(f"{e.t:.1f} s" for e in matching)
        )
    return Verdict(name, False, "never decided")


def _judge_no_alert(expectation: NoAlertExpectation, seen: Sequence[Incident], duration_s: float) -> Verdict:
    name = expectation.describe()
    until = duration_s if expectation.until is None else expectation.until
    offending = [
        i
        for i in seen
        if (expectation.no_alert == "any" or i.type == expectation.no_alert)
        and (expectation.device is None or i.device_id == expectation.device)
        and expectation.after <= i.opened_t <= until
    ]
    if not offending:
        return Verdict(name, True, "none came")
    shown = "; ".join(f"{i.type} for {i.device_id} at {i.opened_t:.1f} s" for i in offending[:5])
    return Verdict(name, False, f"came: {shown}")
