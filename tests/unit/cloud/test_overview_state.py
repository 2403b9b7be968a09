"""The one word an officer reads first: a person's state from their bracelet's conditions (pure)."""

from __future__ import annotations

import pytest

from cloud.overview import PersonState, classify_state
from cloud.rules import AlertType, Condition, ConditionState
from tests.unit.cloud.builders import T0


def _held(*conditions: Condition, active: bool = True) -> dict[Condition, ConditionState]:
    return {c: ConditionState(active, T0, 1, AlertType.TAMPER) for c in conditions}


@pytest.mark.parametrize(
    ("conditions", "site", "presence", "expected"),
    [
        ({}, "online", "home", PersonState.AT_HOME),
        ({}, None, None, PersonState.UNKNOWN),
        ({}, "online", "away", PersonState.OUT),
        (_held(Condition.AWAY), "online", "home", PersonState.OUT),
        (_held(Condition.AWAY, Condition.SIGNAL_LOST), "online", "away", PersonState.SIGNAL_LOST),
        (_held(Condition.STRAP_OPEN, Condition.AWAY), "online", "home", PersonState.STRAP_OPEN),
        (_held(Condition.REMOVED, Condition.STRAP_OPEN), "online", "home", PersonState.BRACELET_OFF),
        (_held(Condition.REMOVED), "offline", "home", PersonState.HUB_OFFLINE),
        (_held(Condition.AWAY, active=False), "online", "home", PersonState.AT_HOME),
        (_held(Condition.FEVER, Condition.BATTERY_LOW), "online", "home", PersonState.AT_HOME),
    ],
)
def test_the_cause_comes_first(
    conditions: dict[Condition, ConditionState], site: str | None, presence: str | None, expected: PersonState
) -> None:
    assert classify_state(conditions, site, presence) is expected
