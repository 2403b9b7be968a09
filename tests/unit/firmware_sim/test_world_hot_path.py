"""The world's per-advert shortcuts give exactly what the plain versions give: positions, draws."""

from __future__ import annotations

import itertools
import random

from firmware_sim.builders import make_household, make_world, walk_path
from firmware_sim.radio import Channel, RadioModel
from firmware_sim.world import AdvertReport
from qmon.clock import ManualClock


def reference_position(path: list[dict[str, float]], t: float) -> tuple[float, float]:
    """Linear interpolation along the path, holding the ends (the plain formula)."""
    ts = [p["t"] for p in path]
    if t <= ts[0]:
        return path[0]["x"], path[0]["y"]
    for a, b in itertools.pairwise(path):
        if a["t"] <= t < b["t"]:
            f = (t - a["t"]) / (b["t"] - a["t"])
            return a["x"] + f * (b["x"] - a["x"]), a["y"] + f * (b["y"] - a["y"])
    return path[-1]["x"], path[-1]["y"]


def test_positions_follow_the_path_in_and_out_of_order() -> None:
    legs = walk_path((0, 1.0, 0.0), (10, 3.0, 1.0), (10, 3.0, 1.0), (25, -2.0, 4.0), (40, -2.5, 4.5))
    world = make_world([make_household(1, path=legs)], ManualClock())
    path = [{"t": p.t, "x": p.x, "y": p.y} for p in world.households[0].bracelets[0].path or []]
    rng = random.Random(4)
    times = sorted(rng.uniform(-5.0, 60.0) for _ in range(400)) + [rng.uniform(-5, 60) for _ in range(400)]
    times += [0.0, 10.0, 25.0, 40.0, 41.0]
    for t in times:
        assert world.position_of("0000a001", t) == reference_position(path, t)


def test_skip_draws_what_sample_draws() -> None:
    model = RadioModel()
    sampled, skipped = random.Random(5), random.Random(5)
    a, b = Channel(model, sampled), Channel(model, skipped)
    for _ in range(101):  # odd: gauss caches its second value
        a.sample(-59, 4.0, False, False)
        b.skip()
    assert sampled.getstate() == skipped.getstate()


def test_a_hubs_reports_do_not_depend_on_who_else_listens() -> None:
    def reports(receivers: list[str] | None) -> list[AdvertReport]:
        clock = ManualClock()
        world = make_world([make_household(n) for n in (1, 2, 3)], clock, radio=RadioModel(), seed=9)
        heard: list[AdvertReport] = []
        world.subscribe(receivers, heard.append)
        for _ in range(120):
            clock.advance(0.25)
            world.step()
        return [r for r in heard if r.receiver == "hub-2"]

    alone = reports(["hub-2"])
    assert len(alone) > 20
    assert alone == reports(None)
