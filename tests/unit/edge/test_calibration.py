"""Per-home calibration: thresholds learned from the wearer's RSSI at home."""

from __future__ import annotations

import random

import pytest

from edge.calibration import CalibrationPolicy, HomeCalibration, HomeProfile, derive_profile
from edge.presence import PresencePolicy
from tests.unit.edge.builders import T0

DEFAULTS = PresencePolicy().default_thresholds
POLICY = CalibrationPolicy(duration_s=3600.0, min_samples=100, sample_interval_s=10.0)
# For tests about the period and the clamps, which feed narrow profiles on purpose.
ANY_SPREAD = CalibrationPolicy(duration_s=3600.0, min_samples=100, sample_interval_s=10.0, min_spread_db=0.0)


def calibrate(low: float, high: float, seed: int, policy: CalibrationPolicy = POLICY) -> HomeCalibration:
    """Feed an hour of one sample per 10 s, uniformly spread over the home's rooms (low..high dBm)."""
    rng = random.Random(seed)
    calibration = HomeCalibration("home", policy, DEFAULTS)
    for i in range(361):
        calibration.add_sample(rng.uniform(low, high), T0 + 10 * i)
    return calibration


def test_thresholds_are_derived_from_the_in_home_profile() -> None:
    calibration = calibrate(-80.0, -55.0, seed=1)

    profile = calibration.profile
    assert profile is not None and calibration.calibrated
    assert profile.low_rssi == pytest.approx(-79, abs=1.5)  # 5th percentile
    assert profile.exit_rssi == pytest.approx(profile.low_rssi - 6)
    assert profile.enter_rssi == pytest.approx(profile.exit_rssi + 8)
    assert calibration.thresholds.calibrated
    assert (calibration.thresholds.enter_rssi, calibration.thresholds.exit_rssi) == (
        profile.enter_rssi,
        profile.exit_rssi,
    )


def test_two_homes_with_different_profiles_get_different_thresholds() -> None:
    studio = calibrate(-68.0, -48.0, seed=2).profile
    house = calibrate(-93.0, -66.0, seed=3).profile

    assert studio is not None and house is not None
    assert studio.exit_rssi > house.exit_rssi + 15
    assert studio.enter_rssi > house.enter_rssi + 15
    # the house's far rooms (-93) must not look like an exit; the studio's doorstep behind its wall (-82) must
    assert house.exit_rssi < -93 and studio.exit_rssi > -82


def test_defaults_apply_until_the_period_is_over_and_enough_samples_came() -> None:
    calibration = HomeCalibration("home", ANY_SPREAD, DEFAULTS)

    for i in range(50):  # the period passes with too few samples
        assert calibration.add_sample(-60.0, T0 + 100 * i) is None
    assert calibration.thresholds == DEFAULTS and not calibration.calibrated

    learned = None
    for i in range(50, 100):
        learned = calibration.add_sample(-60.0, T0 + 100 * i) or learned

    assert learned is not None and calibration.take_learned() == learned
    assert calibration.take_learned() is None  # handed over once
    assert calibration.add_sample(-100.0, T0 + 20_000) is None  # learned profiles stay put


def test_learned_thresholds_are_clamped_to_sane_bounds() -> None:
    next_to_the_hub = calibrate(-45.0, -35.0, seed=4, policy=ANY_SPREAD).profile
    at_the_edge_of_range = calibrate(-99.0, -96.0, seed=5, policy=ANY_SPREAD).profile

    assert next_to_the_hub is not None and at_the_edge_of_range is not None
    assert next_to_the_hub.exit_rssi == POLICY.exit_max_rssi
    assert at_the_edge_of_range.exit_rssi == POLICY.exit_min_rssi


def test_enter_is_lowered_towards_the_median_but_keeps_a_minimum_gap() -> None:
    histogram = [0] * 148
    histogram[-80 + 127] = 10  # a narrow profile: 5th percentile and median are both -80
    histogram[-79 + 127] = 10

    profile = derive_profile("narrow", histogram, POLICY, T0)

    assert profile.exit_rssi == -86
    assert profile.enter_rssi == -80  # exit + 8 would be -78, above the median; median is exit + 6 >= min gap


def test_a_profile_round_trips_and_restores_a_calibrated_home() -> None:
    profile = calibrate(-80.0, -55.0, seed=6).profile
    assert profile is not None

    restored = HomeProfile.from_dict(profile.to_dict())
    after_restart = HomeCalibration("home", POLICY, DEFAULTS, restored)

    assert restored == profile
    assert after_restart.calibrated and after_restart.thresholds == profile.thresholds


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        CalibrationPolicy(percentile=60)
    with pytest.raises(ValueError):
        CalibrationPolicy(gap_db=2, min_gap_db=4)
    with pytest.raises(ValueError):
        CalibrationPolicy(exit_min_rssi=-60, exit_max_rssi=-70)


def test_a_wearer_who_never_moved_keeps_the_defaults_until_the_samples_cover_the_home() -> None:
    calibration = HomeCalibration("home", POLICY, DEFAULTS)
    t = T0
    for _ in range(POLICY.min_samples * 2):  # sat by the hub for twice the period
        assert calibration.add_sample(-62.0, t) is None
        t += POLICY.sample_interval_s * 10
    assert not calibration.calibrated and calibration.thresholds == DEFAULTS
    assert calibration.spread_db() < POLICY.min_spread_db
    learned = None
    for i in range(POLICY.min_samples):  # then moved through the far rooms
        learned = calibration.add_sample(-66.0 - (i % 20), t) or learned
        t += POLICY.sample_interval_s
    assert learned is not None and calibration.calibrated
    assert learned.low_rssi <= -70.0  # the far rooms it has now seen shape the profile
    assert learned.exit_rssi <= learned.low_rssi - POLICY.margin_db
