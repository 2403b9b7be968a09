"""Generated populations: size, layout, reproducibility, scripted violations and their ground truth."""

from __future__ import annotations

import itertools
import math

import pytest

from firmware_sim.households import Household
from firmware_sim.population import Population, ViolationMix, generate_population
from gateway.protocol import EventType


def position(household: Household, t: float) -> tuple[float, float]:
    path = household.bracelets[0].path
    for a, b in itertools.pairwise(path):
        if a.t <= t <= b.t and b.t > a.t:
            f = (t - a.t) / (b.t - a.t)
            return a.x + f * (b.x - a.x), a.y + f * (b.y - a.y)
    last = path[-1] if t >= path[-1].t else path[0]
    return last.x, last.y


@pytest.fixture(scope="module")
def population() -> Population:
    mix = ViolationMix(left_home=0.1, strap_opened=0.1, battery_dead=0.1, fever=0.1, dropout=0.1)
    return generate_population(200, seed=11, duration_s=900, violations=mix, sites=4)


def test_ten_thousand_bracelets_generate() -> None:
    big = generate_population(10_000, seed=1, duration_s=600)
    assert len(big.households) == 10_000
    assert len({h.bracelets[0].device_id for h in big.households}) == 10_000
    assert len(big.keys()) == 10_000


def test_same_seed_same_population(population: Population) -> None:
    mix = ViolationMix(left_home=0.1, strap_opened=0.1, battery_dead=0.1, fever=0.1, dropout=0.1)
    again = generate_population(200, seed=11, duration_s=900, violations=mix, sites=4)
    assert again.households == population.households
    assert again.expectations == population.expectations
    other = generate_population(200, seed=12, duration_s=900, violations=mix, sites=4)
    assert other.households != population.households


def test_homes_do_not_overlap_and_hubs_sit_inside(population: Population) -> None:
    homes = population.households
    for a in homes:
        assert a.home.contains(a.hub.x, a.hub.y)
    centres = [(h.home.x, h.home.y) for h in homes]
    closest = min(math.dist(p, q) for i, p in enumerate(centres) for q in centres[i + 1 :])
    assert closest > 2 * homes[0].home.radius_m + 20


def test_sites_split_the_households(population: Population) -> None:
    by_site = population.receivers_by_site()
    assert len(by_site) == 4 and sum(len(r) for r in by_site.values()) == 200


def test_ground_truth_accounts_for_every_device(population: Population) -> None:
    expected = {e.device_id for e in population.expectations}
    quiet = set(population.no_alert)
    assert not expected & quiet
    assert expected | quiet == {h.bracelets[0].device_id for h in population.households}
    kinds = {
        kind: sum(1 for v in population.violations.values() if v == kind)
        for kind in set(population.violations.values())
    }
    assert kinds == {"left_home": 20, "strap_opened": 20, "battery_dead": 20, "fever": 20, "dropout": 20}
    dropouts = {d for d, kind in population.violations.items() if kind == "dropout"}
    assert dropouts <= quiet
    assert all(isinstance(e.kind, EventType) for e in population.expectations)
    assert all(60 <= e.at <= 900 for e in population.expectations)


def test_quiet_wearers_stay_inside(population: Population) -> None:
    quiet = set(population.no_alert)
    for home in population.households:
        if home.bracelets[0].device_id in quiet:
            assert all(home.home.contains(p.x, p.y) for p in home.bracelets[0].path)


def test_left_home_crosses_the_wall_at_the_expected_time(population: Population) -> None:
    by_device = {h.bracelets[0].device_id: h for h in population.households}
    walkers = [e for e in population.expectations if e.kind == EventType.LEFT_HOME]
    assert len(walkers) == 20
    for expectation in walkers:
        home = by_device[expectation.device_id]
        assert home.home.contains(*position(home, expectation.at - 0.5))
        assert not home.home.contains(*position(home, expectation.at + 0.5))
        assert not home.home.contains(*position(home, 899.0))  # stays out
        far = max(math.dist((home.hub.x, home.hub.y), (p.x, p.y)) for p in home.bracelets[0].path)
        assert far < home.home.radius_m + 11  # still in radio range


def test_strap_battery_fever_and_dropout_scripts(population: Population) -> None:
    by_device = {h.bracelets[0].device_id: h.bracelets[0] for h in population.households}
    expected: dict[str, dict[EventType, float]] = {}
    for e in population.expectations:
        expected.setdefault(e.device_id, {})[e.kind] = e.at
    for device, kind in population.violations.items():
        spec = by_device[device]
        events = [e.model_dump() for e in spec.timeline]
        if kind == "strap_opened":
            at = expected[device][EventType.STRAP_OPENED]
            assert events[0] == {"t": at, "strap": "open"}
            assert events[1] == {"t": expected[device][EventType.BRACELET_REMOVED], "skin_contact": False}
        elif kind == "battery_dead":
            low = expected[device][EventType.BATTERY_LOW]
            dead = expected[device][EventType.SIGNAL_LOST]
            # the natural drain stops just short of the threshold when the scripted steps begin
            assert spec.battery_pct - spec.drain_pct_per_hour * low / 3600 == pytest.approx(15.5, abs=0.01)
            assert events[0] == {"t": pytest.approx(low), "battery": 15.0}
            assert events[-1] == {"t": pytest.approx(dead), "battery": 0.0}
        elif kind == "fever":
            assert events == [{"t": expected[device][EventType.FEVER], "fever": True}]
        elif kind == "dropout":
            assert events[0]["dropout_s"] == 20.0


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        generate_population(0, seed=1, duration_s=600)
    with pytest.raises(ValueError, match="too short"):
        generate_population(10, seed=1, duration_s=100)
    with pytest.raises(ValueError, match="add up"):
        ViolationMix(left_home=0.6, strap_opened=0.6)
