"""Alert escalation (pure): when an unacknowledged alert goes up a level, and when reminders repeat.

Levels: 0 the ward's officers, 1 the ward's supervisors, 2 the district (the district health office: the
recipients configured for level 2; no hub account is needed to receive a notification). An alert opens at
level 0. While it stays `open` (unacknowledged), each `deadline` spent at one level moves it to the next,
and a reminder goes to the current level every `reminder_interval_s` in between; at the top level only
reminders repeat. Acknowledging stops both (optionally slower reminders continue at the level it was
acknowledged at); an alert reopened by its condition coming back starts its level's clock again with a
reminder. A resolved alert is never looked at again.

`plan_escalation` decides one step from the alert, its stored state and the time; the sweep
(cloud/escalation_service.py) stores the new state, the timeline entry and the notifications of that step
in one transaction, so that a restart neither loses nor repeats a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

OPEN, ACKNOWLEDGED = "open", "acknowledged"
MAX_LEVEL = 2
LEVEL_NAMES: tuple[str, ...] = ("ward officers", "ward supervisors", "district")

StepKind = Literal["opened", "escalated", "reminder", "state"]
# Step kinds that are recorded on the alert's timeline and change log ("opened" is already there).
RECORDED_KINDS: frozenset[str] = frozenset({"escalated", "reminder"})


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Deadlines (per alert type, else per severity; none: never escalated nor reminded) and intervals."""

    type_deadlines_s: Mapping[str, float] = field(default_factory=dict)
    severity_deadlines_s: Mapping[str, float] = field(
        default_factory=lambda: {"critical": 900.0, "high": 1800.0, "medium": 3600.0}
    )
    reminder_interval_s: float | None = 600.0
    acknowledged_reminder_interval_s: float | None = None

    def deadline_s(self, alert_type: str, severity: str) -> float | None:
        """How long an unacknowledged alert of this type and severity stays at one level (None: forever)."""
        if alert_type in self.type_deadlines_s:
            return self.type_deadlines_s[alert_type]
        return self.severity_deadlines_s.get(severity)


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What escalation reads of an alert."""

    id: int
    type: str
    severity: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class EscalationState:
    """An alert's stored escalation: its level, since when, the last step, the next due time, the status
    seen at the last step, and the reminders sent at this level."""

    level: int
    level_since: datetime
    last_step_at: datetime
    next_at: datetime | None
    seen_status: str
    reminders: int = 0


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One step: its kind, the level it notifies, the state to store, and the timeline note."""

    kind: StepKind
    level: int
    state: EscalationState
    note: str

    @property
    def recorded(self) -> bool:
        """True if the step goes on the alert's timeline and change log."""
        return self.kind in RECORDED_KINDS

    @property
    def notifies(self) -> bool:
        """True if the step sends notifications (a silent state update does not)."""
        return self.kind != "state"


def level_name(level: int) -> str:
    """Who a level reaches, in words."""
    return LEVEL_NAMES[min(level, MAX_LEVEL)]


@dataclass(frozen=True, slots=True)
class EscalationOutlook:
    """What officers are shown of an alert's escalation: the level it reached and the next step's time."""

    level: int = 0
    next_at: datetime | None = None


def escalation_outlook(status: str, state: EscalationState | None) -> EscalationOutlook:
    """The level an alert reached (0 until the sweep first saw it) and when the sweep acts on it next.

    No next time for a resolved alert, nor while the sweep has not yet seen the alert's latest status: an
    acknowledgement cancels what was scheduled, a reopening reminds at the next sweep."""
    if state is None:
        return EscalationOutlook()
    return EscalationOutlook(state.level, state.next_at if status == state.seen_status else None)


def plan_escalation(
    alert: AlertFacts, state: EscalationState | None, policy: EscalationPolicy, now: datetime
) -> EscalationStep | None:
    """The step due for this alert now (None: nothing yet), given its stored state (None: never seen)."""
    deadline = policy.deadline_s(alert.type, alert.severity)
    if state is None and alert.status == ACKNOWLEDGED:
        # Taken on before the sweep first saw it: nobody needs telling.
        unseen = EscalationState(0, alert.opened_at, now, None, OPEN)
        return _plan_acknowledged(alert, unseen, policy, now)
    if state is None:
        first = EscalationState(0, alert.opened_at, now, None, alert.status)
        first = replace(first, next_at=_next_due(alert, first, policy, deadline))
        return EscalationStep("opened", 0, first, f"alert opened: {level_name(0)} notified")
    if alert.status == ACKNOWLEDGED:
        return _plan_acknowledged(alert, state, policy, now)
    if alert.status != OPEN:
        return None
    if state.seen_status != OPEN:
        # Reopened (the condition cleared and came back): this level's clock starts again.
        state = replace(state, level_since=now, last_step_at=now, seen_status=OPEN, reminders=1)
        state = replace(state, next_at=_next_due(alert, state, policy, deadline))
        note = f"reopened and unacknowledged: reminder to {level_name(state.level)} (level {state.level})"
        return EscalationStep("reminder", state.level, state, note)
    if state.next_at is None or now < state.next_at:
        return None
    if deadline is not None and state.level < MAX_LEVEL and now >= state.level_since + _s(deadline):
        level = state.level + 1
        state = replace(state, level=level, level_since=now, last_step_at=now, reminders=0)
        state = replace(state, next_at=_next_due(alert, state, policy, deadline))
        waited = _minutes(now - alert.opened_at)
        note = f"unacknowledged after {waited}: escalated to {level_name(level)} (level {level})"
        return EscalationStep("escalated", level, state, note)
    state = replace(state, last_step_at=now, reminders=state.reminders + 1)
    state = replace(state, next_at=_next_due(alert, state, policy, deadline))
    note = (
        f"still unacknowledged: reminder {state.reminders} to {level_name(state.level)} (level {state.level})"
    )
    return EscalationStep("reminder", state.level, state, note)


def _plan_acknowledged(
    alert: AlertFacts, state: EscalationState, policy: EscalationPolicy, now: datetime
) -> EscalationStep | None:
    interval = policy.acknowledged_reminder_interval_s
    if state.seen_status != ACKNOWLEDGED:
        since = alert.acknowledged_at or now
        next_at = since + _s(interval) if interval is not None else None
        quiet = replace(state, seen_status=ACKNOWLEDGED, next_at=next_at, reminders=0)
        return EscalationStep("state", state.level, quiet, "acknowledged: escalation stopped")
    if interval is None and state.next_at is not None:
        # Slow reminders were switched off since (a restart with new settings): stop waiting for one.
        return EscalationStep(
            "state", state.level, replace(state, next_at=None), "acknowledged reminders off"
        )
    if interval is None or state.next_at is None or now < state.next_at:
        return None
    state = replace(state, last_step_at=now, next_at=now + _s(interval), reminders=state.reminders + 1)
    note = f"acknowledged but unresolved: reminder {state.reminders} to {level_name(state.level)}"
    return EscalationStep("reminder", state.level, state, note)


def _next_due(
    alert: AlertFacts, state: EscalationState, policy: EscalationPolicy, deadline: float | None
) -> datetime | None:
    """The next escalation or reminder of an open alert (None: nothing will ever be due)."""
    if alert.status != OPEN or deadline is None:
        return None
    candidates: list[datetime] = []
    if state.level < MAX_LEVEL:
        candidates.append(state.level_since + _s(deadline))
    if policy.reminder_interval_s is not None:
        candidates.append(state.last_step_at + _s(policy.reminder_interval_s))
    return min(candidates) if candidates else None


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
