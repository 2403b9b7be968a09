"""Generated populations for benchmarks: N households with realistic indoor movement, a known fraction of
them scripted to break quarantine at known times, and the ground truth an edge agent should reproduce.

Homes sit on a grid `spacing_m` apart so footprints never overlap; each household has one bracelet and
its own hub near the centre of the home. Wearers move between random waypoints inside the home (a
pause of 15-60 s or 2-15 min at each, fidgeting a little, then a walk at 0.5-1.2 m/s). Violations start no
earlier
than `earliest_s` (the edge's calibration warm-up) and no later than `margin_s` before the end.

Ground truth (`Expectation.at` is seconds from the simulation start):
- left_home: the wearer walks out through the wall at `at` and stays 4-8 m outside, still in radio
  range, until the end -> LEFT_HOME at `at`.
- strap_opened: the strap opens at `at`, skin contact is lost `skin_contact_delay_s` later, the bracelet
  then lies still -> STRAP_OPENED at `at`, BRACELET_REMOVED at `at + skin_contact_delay_s`.
- battery_dead: the battery reaches the low threshold at `at`, declines in 10 s steps and dies
  `battery_low_to_dead_s` later (it stops advertising) -> BATTERY_LOW at `at`, SIGNAL_LOST at the death.
- fever: the wearer's temperature rises to ~38.4 C from `at` -> FEVER at `at`.
- dropout: nothing is received from the bracelet for `dropout_s` (shorter than the edge's staleness
  timeout) -> no event at all: these devices are in `no_alert` with every household without violation.
"""

from __future__ import annotations

import gc
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, model_validator

from firmware_sim.households import Household, derive_key, households_by_site
from gateway.protocol import EventType
from qmon.bracelet.gatt import BraceletConfig
from qmon.settings import StrictModel

LOW_BATTERY_PCT = BraceletConfig().low_battery_pct
BATTERY_STEP_S = 10.0


class ViolationMix(StrictModel):
    """Which fraction of households gets each scripted violation, and how the violations are timed."""

    left_home: float = Field(
        default=0.02, ge=0, le=1, description="Fraction that walks out of home and stays out."
    )
    strap_opened: float = Field(
        default=0.02, ge=0, le=1, description="Fraction whose strap is opened, then removed."
    )
    battery_dead: float = Field(
        default=0.01, ge=0, le=1, description="Fraction whose battery runs low, then dies."
    )
    fever: float = Field(default=0.01, ge=0, le=1, description="Fraction whose wearer develops a fever.")
    dropout: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Fraction with a radio dropout shorter than the staleness timeout (no alert).",
    )
    dropout_s: float = Field(
        default=20.0,
        gt=0,
        le=3600,
        description="Length of each dropout, seconds; keep it below the edge's staleness timeout.",
    )
    earliest_s: float = Field(
        default=60.0, ge=0, description="No violation starts before this time (calibration warm-up)."
    )
    margin_s: float = Field(
        default=60.0,
        ge=0,
        description="No violation starts later than this before the end (time to detect it).",
    )
    skin_contact_delay_s: float = Field(
        default=5.0, gt=0, le=600, description="Strap opened -> skin contact lost, seconds."
    )
    battery_low_to_dead_s: float = Field(
        default=120.0, gt=0, le=86_400, description="Low battery -> dead, seconds."
    )

    @model_validator(mode="after")
    def _fractions_fit(self) -> ViolationMix:
        total = self.left_home + self.strap_opened + self.battery_dead + self.fever + self.dropout
        if total > 1.0 + 1e-9:
            raise ValueError(f"violation fractions add up to {total:.3f} > 1")
        return self


@dataclass(frozen=True, slots=True)
class Expectation:
    """An event the edge agent covering `device_id` should emit, and when the cause happened."""

    device_id: str
    kind: EventType
    at: float


@dataclass(frozen=True)
class Population:
    """Generated households plus the ground truth of what an edge agent should report."""

    households: list[Household]
    expectations: list[Expectation]
    no_alert: list[str]
    seed: int
    duration_s: float
    violations: dict[str, str] = field(default_factory=dict)  # device id -> violation kind

    def keys(self) -> dict[str, bytes]:
        """Every bracelet's key by device id (the generated bracelets carry explicit keys)."""
        return {b.device_id: bytes.fromhex(b.key or "") for h in self.households for b in h.bracelets}

    def receivers_by_site(self) -> dict[str, list[str]]:
        """The hub ids each site's edge agent should scan (site id -> receiver ids)."""
        return {
            site: [h.hub.id for h in homes] for site, homes in households_by_site(self.households).items()
        }


def generate_population(
    count: int,
    seed: int,
    duration_s: float,
    violations: ViolationMix | None = None,
    *,
    sites: int = 1,
    home_radius_m: float = 6.0,
    spacing_m: float = 60.0,
) -> Population:
    """Generate `count` one-bracelet households over `duration_s` seconds, reproducibly from `seed`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if not 1 <= sites <= count:
        raise ValueError("sites must be between 1 and count")
    if spacing_m < 2 * home_radius_m + 25:
        raise ValueError("spacing_m must leave room between homes for wearers who walk out")
    mix = violations or ViolationMix()
    latest = duration_s - mix.margin_s
    if mix.earliest_s > latest and _any_violation(mix):
        raise ValueError("duration_s too short: no room between earliest_s and the end margin for violations")
    rng = random.Random(seed)
    kinds = _assign_violations(rng, count, mix)
    columns = math.ceil(math.sqrt(count))
    per_site = math.ceil(count / sites)
    device_ids = _unique_device_ids(rng, count)
    gen = _Generator(rng, home_radius_m, duration_s)
    records: list[dict[str, Any]] = []
    expectations: list[Expectation] = []
    no_alert: list[str] = []
    violations_by_device: dict[str, str] = {}
    for i in range(count):
        cx = (i % columns) * spacing_m
        cy = (i // columns) * spacing_m
        device = f"{device_ids[i]:08x}"
        bracelet: dict[str, Any] = {
            "device_id": device,
            "key": derive_key(seed, device_ids[i]).hex(),
            "battery_pct": round(rng.uniform(60.0, 100.0), 1),
            "drain_pct_per_hour": round(rng.uniform(0.5, 2.0), 2),
            "heart_rate_bpm": round(rng.uniform(60.0, 85.0), 1),
            "body_temp_c": round(min(37.0, max(36.0, rng.gauss(36.5, 0.2))), 2),
            "measured_power_dbm": rng.randint(-62, -56),
        }
        kind = kinds[i]
        at = round(rng.uniform(mix.earliest_s, latest), 3) if kind else 0.0
        bracelet["path"], bracelet["timeline"], expected = gen.script(kind, at, cx, cy, bracelet, mix)
        if kind:
            violations_by_device[device] = kind
        if expected:
            expectations.extend(Expectation(device, event, when) for event, when in expected)
        else:
            no_alert.append(device)
        records.append(
            {
                "id": f"hh-{i:05d}",
                "site_id": f"sim-site-{i // per_site + 1:03d}",
                "hub": {
                    "id": f"hub-{i:05d}",
                    "x": cx + rng.uniform(-1.5, 1.5),
                    "y": cy + rng.uniform(-1.5, 1.5),
                },
                "home": {"x": cx, "y": cy, "radius_m": home_radius_m},
                "bracelets": [bracelet],
            }
        )
    # Validating plain dicts is faster than building the models piece by piece; the cyclic garbage
    # collector is paused meanwhile because it would rescan millions of new, acyclic objects.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        households = [Household.model_validate(record) for record in records]
    finally:
        if was_enabled:
            gc.enable()
    expectations.sort(key=lambda e: (e.at, e.device_id))
    return Population(households, expectations, no_alert, seed, duration_s, violations_by_device)


def _any_violation(mix: ViolationMix) -> bool:
    return any((mix.left_home, mix.strap_opened, mix.battery_dead, mix.fever, mix.dropout))


def _assign_violations(rng: random.Random, count: int, mix: ViolationMix) -> list[str]:
    kinds = [""] * count
    order = list(range(count))
    rng.shuffle(order)
    pos = 0
    for kind, fraction in (
        ("left_home", mix.left_home),
        ("strap_opened", mix.strap_opened),
        ("battery_dead", mix.battery_dead),
        ("fever", mix.fever),
        ("dropout", mix.dropout),
    ):
        n = round(fraction * count)
        for index in order[pos : pos + n]:
            kinds[index] = kind
        pos += n
    return kinds


def _unique_device_ids(rng: random.Random, count: int) -> list[int]:
    seen: set[int] = set()
    out: list[int] = []
    while len(out) < count:
        value = rng.getrandbits(32)
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


Point = dict[str, float]
Timeline = list[dict[str, Any]]
Script = tuple[list[Point], Timeline, list[tuple[EventType, float]]]


class _Generator:
    """Paths and timelines for one population (shares the population's random source)."""

    def __init__(self, rng: random.Random, radius: float, duration_s: float) -> None:
        self.rng = rng
        self.radius = radius
        self.duration = duration_s

    def script(
        self, kind: str, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        """The path, the timeline and the expected events for one bracelet with violation `kind` at `at`."""
        handler: Callable[..., Script] = getattr(self, f"_script_{kind}" if kind else "_script_quiet")
        return handler(at, cx, cy, bracelet, mix)

    def _script_quiet(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        return self.indoor(cx, cy, self.duration), [], []

    def _script_dropout(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        return self.indoor(cx, cy, self.duration), [{"t": at, "dropout_s": mix.dropout_s}], []

    def _script_fever(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        return self.indoor(cx, cy, self.duration), [{"t": at, "fever": True}], [(EventType.FEVER, at)]

    def _script_strap_opened(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        removed = at + mix.skin_contact_delay_s
        # After removal the bracelet lies where it was taken off: the path simply ends there.
        path = self.indoor(cx, cy, removed)
        timeline: Timeline = [{"t": at, "strap": "open"}, {"t": removed, "skin_contact": False}]
        return path, timeline, [(EventType.STRAP_OPENED, at), (EventType.BRACELET_REMOVED, removed)]

    def _script_battery_dead(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        # A slow natural drain brings the battery just above the threshold at `at` (so no GATT link can
        # shift the onset noticeably); then it steps down to empty, dying exactly at `dead`.
        drain = self.rng.uniform(1.0, 5.0)
        bracelet["drain_pct_per_hour"] = round(drain, 3)
        bracelet["battery_pct"] = round(LOW_BATTERY_PCT + 0.5 + drain * at / 3600.0, 4)
        dead = at + mix.battery_low_to_dead_s
        steps = max(1, math.ceil(mix.battery_low_to_dead_s / BATTERY_STEP_S))
        timeline = [
            {"t": at + k * (dead - at) / steps, "battery": round(LOW_BATTERY_PCT * (1 - k / steps), 3)}
            for k in range(steps + 1)
        ]
        expected = [(EventType.BATTERY_LOW, at), (EventType.SIGNAL_LOST, dead)]
        return self.indoor(cx, cy, self.duration), timeline, expected

    def _script_left_home(
        self, at: float, cx: float, cy: float, bracelet: dict[str, Any], mix: ViolationMix
    ) -> Script:
        rng = self.rng
        angle = rng.uniform(0.0, 2.0 * math.pi)
        ux, uy = math.cos(angle), math.sin(angle)
        door_x, door_y = cx + self.radius * ux, cy + self.radius * uy
        speed = rng.uniform(0.8, 1.3)
        path = self.indoor(cx, cy, at)

        def leave_time(p: Point) -> float:
            return at - math.hypot(door_x - p["x"], door_y - p["y"]) / speed

        # Drop the indoor points the wearer would not reach before heading for the door.
        while len(path) > 1 and path[-1]["t"] > leave_time(path[-1]):
            path.pop()
        last = path[-1]
        leave = leave_time(last)
        if last["t"] < leave:
            path.append({"t": leave, "x": last["x"], "y": last["y"]})
        # A straight line from an inside point to the door stays inside: the wall is crossed exactly at `at`.
        path.append({"t": at, "x": door_x, "y": door_y})
        out = self.radius + rng.uniform(4.0, 8.0)  # still in radio range, clearly outside
        t = at + (out - self.radius) / speed
        ox, oy = cx + out * ux, cy + out * uy
        path.append({"t": t, "x": ox, "y": oy})
        while t < self.duration:  # loiter outside, never back through the wall
            t += rng.uniform(20.0, 90.0)
            path.append({"t": t, "x": ox + rng.gauss(0.0, 0.5), "y": oy + rng.gauss(0.0, 0.5)})
        return path, [], [(EventType.LEFT_HOME, at)]

    def indoor(self, cx: float, cy: float, until: float) -> list[Point]:
        """Random-waypoint movement inside the home from t=0 to `until`."""
        rng = self.rng
        reach = 0.85 * self.radius  # rooms end a little before the exterior wall
        x, y = self._inside(cx, cy, reach)
        t = 0.0
        path = [{"t": t, "x": x, "y": y}]
        while t < until:
            # Pauses: half are short (moving about), half long (sitting, sleeping)
            t += rng.uniform(15.0, 60.0) if rng.random() < 0.5 else rng.uniform(120.0, 900.0)
            # Fidgeting during the pause: the wrist is never perfectly still.
            x, y = self._clamp(cx, cy, x + rng.gauss(0.0, 0.3), y + rng.gauss(0.0, 0.3), reach)
            path.append({"t": t, "x": x, "y": y})
            nx, ny = self._inside(cx, cy, reach)
            t += math.hypot(nx - x, ny - y) / rng.uniform(0.5, 1.2)
            x, y = nx, ny
            path.append({"t": t, "x": x, "y": y})
        return path

    def _inside(self, cx: float, cy: float, reach: float) -> tuple[float, float]:
        r = reach * math.sqrt(self.rng.random())  # uniform over the disc
        a = self.rng.uniform(0.0, 2.0 * math.pi)
        return cx + r * math.cos(a), cy + r * math.sin(a)

    @staticmethod
    def _clamp(cx: float, cy: float, x: float, y: float, reach: float) -> tuple[float, float]:
        d = math.hypot(x - cx, y - cy)
        if d <= reach:
            return x, y
        return cx + (x - cx) * reach / d, cy + (y - cy) * reach / d
