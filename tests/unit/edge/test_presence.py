"""The presence engine with time passed in: dwell, dips, noise, staleness, restoration."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from edge.presence import PresenceChange, PresenceEngine, PresencePolicy, Thresholds
from gateway.protocol import EventType, PresenceState
from tests.unit.edge.builders import T0

POLICY = PresencePolicy()
TH = POLICY.default_thresholds  # enter -82, exit -90


def run(
    engine: PresenceEngine,
    rssi_at: Callable[[float], float | None],
    start: float,
    seconds: int,
    th: Thresholds = TH,
) -> list[PresenceChange]:
    """One advert per second (None: no advert that second) plus a tick, like the agent does."""
    changes: list[PresenceChange] = []
    for i in range(seconds):
        now = start + i
        rssi = rssi_at(now)
        if rssi is not None:
            changes += engine.observe(rssi, now, th)
        changes += engine.tick(now + 0.5, th)
    return changes


def at_home(state: PresenceState = PresenceState.HOME) -> PresenceEngine:
    return PresenceEngine(POLICY, started_at=T0, state=state)


def test_start_up_near_the_hub_becomes_home_without_an_event() -> None:
    engine = PresenceEngine(POLICY, started_at=T0)

    changes = run(engine, lambda t: -60, T0, 20)

    assert changes == []
    assert engine.state is PresenceState.HOME


def test_start_up_far_from_the_hub_reports_left_home() -> None:
    engine = PresenceEngine(POLICY, started_at=T0)

    changes = run(engine, lambda t: -96, T0, 40)

    assert [c.type for c in changes] == [EventType.LEFT_HOME]
    assert changes[0].evidence["previous"] == "unknown"


def test_exit_is_decided_after_the_dwell_time_below_the_exit_threshold() -> None:
    engine = at_home()
    run(engine, lambda t: -65, T0, 30)
    crossed: list[float] = []

    def walking_out(t: float) -> float:
        if engine.smoothed is not None and engine.smoothed < TH.exit_rssi and not crossed:
            crossed.append(t)
        return -97

    changes = run(engine, walking_out, T0 + 30, 120)

    assert [c.type for c in changes] == [EventType.LEFT_HOME]
    left = changes[0]
    assert crossed and POLICY.exit_dwell_s <= left.time - crossed[0] + 1 <= POLICY.exit_dwell_s + 2
    evidence = left.evidence
    assert evidence["exit_rssi"] == -90 and evidence["enter_rssi"] == -82 and evidence["calibrated"] is False
    assert evidence["rssi"] < -90 and evidence["below_exit_s"] >= POLICY.exit_dwell_s
    assert evidence["previous"] == "home"
    assert engine.state is PresenceState.AWAY


def test_a_brief_dip_does_not_end_in_an_exit() -> None:
    engine = at_home()

    changes = run(engine, lambda t: -100 if T0 + 60 <= t < T0 + 80 else -65, T0, 300)

    assert changes == []
    assert engine.state is PresenceState.HOME


def test_return_needs_the_enter_threshold_for_the_enter_dwell() -> None:
    engine = at_home(PresenceState.AWAY)
    run(engine, lambda t: -95, T0, 60)

    middle = run(engine, lambda t: -86, T0 + 60, 120)  # in the hysteresis gap: still away
    back = run(engine, lambda t: -70, T0 + 180, 60)

    assert middle == []
    assert [c.type for c in back] == [EventType.RETURNED_HOME]
    assert back[0].evidence["away_for_s"] >= 180
    assert engine.state is PresenceState.HOME


@pytest.mark.parametrize(
    ("start", "mean", "allowed"),
    [
        (PresenceState.HOME, -90.0, {EventType.LEFT_HOME}),  # at the exit threshold: may leave, never return
        (PresenceState.AWAY, -82.0, {EventType.RETURNED_HOME}),  # at the enter threshold: the reverse
        (PresenceState.HOME, -86.0, set()),  # in the gap: nothing at all
        (PresenceState.AWAY, -86.0, set()),
    ],
)
def test_no_flapping_under_noise_held_at_a_threshold(
    start: PresenceState, mean: float, allowed: set[EventType]
) -> None:
    rng = random.Random(20211)
    engine = at_home(start)

    changes = run(engine, lambda t: round(mean + rng.gauss(0.0, 4.0)), T0, 30 * 60)

    assert len(changes) <= len(allowed)
    assert {c.type for c in changes} <= allowed


def test_silence_is_signal_lost_with_evidence_then_restored() -> None:
    engine = at_home()
    run(engine, lambda t: -70, T0, 30)
    fade = run(engine, lambda t: -70 - (t - T0 - 30) * 0.6, T0 + 30, 30)  # fading at 36 dB/min

    lost = run(engine, lambda t: None, T0 + 60, 40)

    assert fade == []
    assert [c.type for c in lost] == [EventType.SIGNAL_LOST]
    evidence = lost[0].evidence
    assert lost[0].time == pytest.approx(T0 + 59 + POLICY.stale_after_s, abs=1.0)
    assert evidence["silent_s"] >= POLICY.stale_after_s
    assert evidence["last_seen"].endswith("Z")
    assert -90 < evidence["last_rssi"] < -80
    assert evidence["rssi_trend_db_per_min"] == pytest.approx(-36, abs=3)
    assert evidence["exit_rssi"] == -90 and evidence["presence"] == "home" and evidence["never_seen"] is False
    assert engine.reported_state is PresenceState.UNKNOWN

    restored = engine.observe(-72, T0 + 150, TH)

    assert [c.type for c in restored] == [EventType.SIGNAL_RESTORED]
    assert restored[0].evidence["lost_for_s"] == pytest.approx(150 - 89.5, abs=1.0)
    assert restored[0].evidence["rssi"] == -72
    assert engine.smoothed == -72  # the filter restarts after a loss
    assert engine.reported_state == PresenceState.HOME  # type: ignore[comparison-overlap]


def test_a_bracelet_never_heard_is_lost_after_the_stale_timeout() -> None:
    engine = PresenceEngine(POLICY, started_at=T0)

    assert engine.tick(T0 + POLICY.stale_after_s - 1, TH) == []
    changes = engine.tick(T0 + POLICY.stale_after_s, TH)

    assert [c.type for c in changes] == [EventType.SIGNAL_LOST]
    assert changes[0].evidence["never_seen"] is True and changes[0].evidence["last_seen"] is None
    assert engine.tick(T0 + 1000, TH) == []  # reported once


def test_a_loss_restored_from_before_a_restart_is_not_repeated_and_is_cleared() -> None:
    engine = PresenceEngine(POLICY, started_at=T0, state=PresenceState.HOME, lost=True)

    assert engine.tick(T0 + 100, TH) == []
    assert [c.type for c in engine.observe(-60, T0 + 101, TH)] == [EventType.SIGNAL_RESTORED]


def test_reports_of_one_instant_are_averaged_and_outliers_clipped() -> None:
    engine = at_home()
    engine.observe(-60, T0, TH)
    engine.observe(-70, T0, TH, new_event=False)  # a second receiver, same instant

    assert engine.smoothed == pytest.approx(-65)

    engine.observe(-120, T0, TH, new_event=False)  # a deep null: clipped to 12 dB below the estimate

    assert engine.smoothed == pytest.approx((-60 - 70 - 77) / 3)


def test_duplicate_reports_are_samples_but_not_signs_of_life() -> None:
    engine = at_home()
    engine.observe(-60, T0, TH)
    engine.observe(-60, T0 + 20, TH, new_event=False)

    assert engine.last_seen == T0
    assert [c.type for c in engine.tick(T0 + POLICY.stale_after_s, TH)] == [EventType.SIGNAL_LOST]


def test_calibrated_thresholds_change_the_decision() -> None:
    engine = at_home()
    strict = Thresholds(enter_rssi=-62.0, exit_rssi=-70.0, calibrated=True)

    changes = run(engine, lambda t: -75, T0, 60, th=strict)

    assert [c.type for c in changes] == [EventType.LEFT_HOME]
    assert changes[0].evidence["calibrated"] is True and changes[0].evidence["exit_rssi"] == -70


def test_policy_and_thresholds_validate_their_order() -> None:
    with pytest.raises(ValueError, match="hysteresis"):
        Thresholds(enter_rssi=-90, exit_rssi=-85)
    with pytest.raises(ValueError, match="hysteresis"):
        PresencePolicy(enter_rssi=-95)
    with pytest.raises(ValueError):
        PresencePolicy(tau_s=0)
