"""Builders with defaults for tests across the project: one household or a small world in one call.

    world = make_world([make_household(1), make_household(2, timeline=[{"t": 30, "strap": "open"}])], clock)

Household n sits at x = 100 * (n - 1) with its hub `hub-n` 1 m from the centre of a 6 m footprint; its
one bracelet has device id `0000a00n` (hex of 0xA000 + n) and stands 2 m from the centre unless a path
is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from firmware_sim.households import Household
from firmware_sim.radio import RadioModel
from firmware_sim.world import World
from qmon.clock import Clock

HOME_SPACING_M = 100.0
HOME_RADIUS_M = 6.0


def home_centre(n: int) -> tuple[float, float]:
    """Centre of household n's footprint."""
    return (HOME_SPACING_M * (n - 1), 0.0)


def device_id_of(n: int) -> str:
    """Device id of household n's bracelet."""
    return f"{0xA000 + n:08x}"


def make_household(
    n: int = 1,
    *,
    path: Sequence[dict[str, float]] | None = None,
    timeline: Sequence[dict[str, Any]] | None = None,
    site_id: str = "test-site",
    radius_m: float = HOME_RADIUS_M,
    **bracelet: Any,
) -> Household:
    """Household n with one bracelet; `path` is relative to the centre; other keywords go to the bracelet."""
    cx, cy = home_centre(n)
    points = path if path is not None else [{"t": 0.0, "x": 2.0, "y": 0.0}]
    spec: dict[str, Any] = {
        "device_id": device_id_of(n),
        "path": [{"t": p["t"], "x": cx + p["x"], "y": cy + p["y"]} for p in points],
        "timeline": list(timeline or []),
        **bracelet,
    }
    return Household.model_validate(
        {
            "id": f"hh-{n}",
            "site_id": site_id,
            "hub": {"id": f"hub-{n}", "x": cx + 1.0, "y": cy},
            "home": {"x": cx, "y": cy, "radius_m": radius_m},
            "bracelets": [spec],
        }
    )


def walk_path(*legs: tuple[float, float, float]) -> list[dict[str, float]]:
    """A path from (t, x, y) triples relative to the home's centre."""
    return [{"t": t, "x": x, "y": y} for t, x, y in legs]


def quiet_radio(**overrides: Any) -> RadioModel:
    """A free-space radio without noise or loss (exact, predictable RSSI), with any field overridden."""
    fields = {"path_loss_exponent": 2.0, "noise_sigma_db": 0.0, "packet_loss": 0.0, **overrides}
    return RadioModel.model_validate(fields)


def make_world(
    households: Sequence[Household], clock: Clock, *, radio: RadioModel | None = None, seed: int = 1
) -> World:
    """A world over `households` with a noise-free radio by default."""
    return World(households, radio or quiet_radio(), clock, seed)
