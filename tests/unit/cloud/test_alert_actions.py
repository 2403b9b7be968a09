"""Officers' actions on an alert (apply_action) and what they are shown of its escalation (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.alerts import ACKNOWLEDGED, NOTE, RESOLVED, apply_action, plan_step
from cloud.errors import ConflictError
from cloud.escalation import EscalationOutlook, EscalationState, escalation_outlook
from cloud.storage.records import Alert
from tests.unit.cloud.builders import at, make_order
from tests.unit.cloud.test_alert_lifecycle import action

NOW = at(2000)


def alert(**fields: Any) -> Alert:
    """A freshly opened left_home alert, with overrides."""
    step = plan_step(None, action(), make_order(), at(1), at(1000))
    assert step is not None
    return Alert(**{**step.changes, "id": 7, **fields})


def state(level: int = 1, next_at: float | None = 2600, seen: str = "open") -> EscalationState:
    return EscalationState(level, at(1900), at(1900), None if next_at is None else at(next_at), seen)


@pytest.mark.parametrize("status", ["open", "acknowledged"])
def test_a_note_changes_nothing_but_the_update_time_and_version(status: str) -> None:
    before = alert(status=status, version=3)
    after = apply_action(before, NOTE, "an", "called: no answer", NOW)
    assert after == alert(status=status, version=4, updated_at=NOW)


def test_acknowledge_and_resolve_set_who_and_when() -> None:
    acked = apply_action(alert(), ACKNOWLEDGED, "an", None, NOW)
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == ("acknowledged", "an", NOW)
    resolved = apply_action(acked, RESOLVED, "binh", "false alarm", at(3000))
    assert (resolved.status, resolved.resolved_by, resolved.resolved_at) == ("resolved", "binh", at(3000))
    assert (resolved.resolution_note, resolved.version) == ("false alarm", 2)


@pytest.mark.parametrize("action_name", [NOTE, ACKNOWLEDGED, RESOLVED])
def test_a_resolved_alert_never_changes(action_name: str) -> None:
    with pytest.raises(ConflictError, match="resolved"):
        apply_action(alert(status="resolved"), action_name, "an", "late", NOW)


def test_the_outlook_of_an_alert_never_swept_is_level_0_with_nothing_scheduled() -> None:
    assert escalation_outlook("open", None) == EscalationOutlook(0, None)


def test_the_outlook_shows_the_next_step_only_while_the_sweep_knows_the_status() -> None:
    assert escalation_outlook("open", state()) == EscalationOutlook(1, at(2600))
    # Acknowledged since the last sweep: what was scheduled will not happen.
    assert escalation_outlook("acknowledged", state()) == EscalationOutlook(1, None)
    # Acknowledged and seen: only slow reminders, if configured.
    quiet, reminding = state(next_at=None, seen="acknowledged"), state(next_at=9000, seen="acknowledged")
    assert escalation_outlook("acknowledged", quiet) == EscalationOutlook(1, None)
    assert escalation_outlook("acknowledged", reminding) == EscalationOutlook(1, at(9000))
    # Resolved: the level it reached stays, nothing more will come.
    assert escalation_outlook("resolved", state(level=2)) == EscalationOutlook(2, None)
