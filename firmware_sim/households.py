"""Households as data: homes, hubs, bracelets, wearers' paths and scripted timelines (YAML or JSON).

A file holds `households: [...]`; see `firmware_sim/households/demo.yaml` for a commented example. Times
are seconds from the simulation start; positions are metres on a flat x/y plane. A wearer's path is
interpolated linearly between points and holds its last point (before its first point it holds the first).

Bracelet keys: a bracelet without an explicit `key` gets one derived with HMAC-SHA256 from the world seed
and its device id (`derive_key`). Derived keys are for simulation only: anyone who knows the seed knows
every key. Real bracelets are provisioned with random keys.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, Tag, field_validator, model_validator

from gateway.protocol import SITE_ID_PATTERN
from qmon.bracelet.advert import KEY_LEN
from qmon.bracelet.gatt import ADV_INTERVAL_RANGE_MS
from qmon.settings import StrictModel, key_discriminator, read_settings_file

HUB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
KEY_DOMAIN = b"qmon-sim-key-v1"

Seconds = Annotated[float, Field(ge=0, description="Seconds from the simulation start.")]


class Hub(StrictModel):
    """The household's receiver (the edge agent's BLE adapter): its id and position."""

    id: str = Field(pattern=HUB_ID_PATTERN, description="Receiver id; scanners subscribe to receivers by id.")
    x: float = Field(description="Position east, metres.")
    y: float = Field(description="Position north, metres.")


class Footprint(StrictModel):
    """The home's footprint, a circle: inside, the wearer is home; outside, an exterior wall is in the way."""

    x: float = Field(description="Centre east, metres.")
    y: float = Field(description="Centre north, metres.")
    radius_m: float = Field(gt=0, le=200, description="Radius, metres.")

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (x, y) is inside the footprint (the boundary counts as inside)."""
        return (x - self.x) ** 2 + (y - self.y) ** 2 <= self.radius_m**2


class PathPoint(NamedTuple):
    """Where the wearer is at time t; written {t, x, y} (or [t, x, y]). A tuple: populations hold millions."""

    t: Seconds
    x: Annotated[float, Field(description="East, metres.")]
    y: Annotated[float, Field(description="North, metres.")]


class StrapEvent(StrictModel):
    """The strap is opened or closed."""

    t: Seconds
    strap: Literal["open", "closed"] = Field(description="New strap state.")


class SkinContactEvent(StrictModel):
    """The skin-contact sensor starts or stops sensing a wrist."""

    t: Seconds
    skin_contact: bool = Field(description="New skin-contact state.")


class BatteryEvent(StrictModel):
    """The battery level is forced to a value (0 kills the bracelet)."""

    t: Seconds
    battery: float = Field(ge=0, le=100, description="New battery level, percent.")


class ChargingEvent(StrictModel):
    """The bracelet is put on or taken off its charger."""

    t: Seconds
    charging: bool = Field(description="New charging state.")


class FeverEvent(StrictModel):
    """The wearer's fever starts or ends."""

    t: Seconds
    fever: bool = Field(description="Whether the wearer has a fever from now on.")


class RadioEvent(StrictModel):
    """The bracelet's radio is switched off or on."""

    t: Seconds
    radio: Literal["off", "on"] = Field(description="New radio state.")

    @field_validator("radio", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `off`/`on` as a boolean
        if isinstance(value, bool):
            return "on" if value else "off"
        return value


class DropoutEvent(StrictModel):
    """Interference: nothing from this bracelet is received for `dropout_s` seconds."""

    t: Seconds
    dropout_s: float = Field(gt=0, le=86_400, description="Length of the dropout, seconds.")


class InterferenceEvent(StrictModel):
    """Interference: the bracelet's signal arrives `interference_db` weaker for `for_s` seconds (a microwave
    oven, a crowded 2.4 GHz band): fewer adverts get through and those that do read lower."""

    t: Seconds
    interference_db: float = Field(gt=0, le=60, description="Extra attenuation, dB.")
    for_s: float = Field(gt=0, le=86_400, description="How long it lasts, seconds.")


class ClockDriftEvent(StrictModel):
    """The bracelet's clock starts drifting at `clock_drift_ppm` (a cold crystal, a failing oscillator)."""

    t: Seconds
    clock_drift_ppm: float = Field(ge=-100_000, le=100_000, description="New clock drift, ppm.")


_EVENT_KEYS = (
    "strap",
    "skin_contact",
    "battery",
    "charging",
    "fever",
    "radio",
    "dropout_s",
    "interference_db",
    "clock_drift_ppm",
)


TimelineEvent = Annotated[
    Annotated[StrapEvent, Tag("strap")]
    | Annotated[SkinContactEvent, Tag("skin_contact")]
    | Annotated[BatteryEvent, Tag("battery")]
    | Annotated[ChargingEvent, Tag("charging")]
    | Annotated[FeverEvent, Tag("fever")]
    | Annotated[RadioEvent, Tag("radio")]
    | Annotated[DropoutEvent, Tag("dropout_s")]
    | Annotated[InterferenceEvent, Tag("interference_db")]
    | Annotated[ClockDriftEvent, Tag("clock_drift_ppm")],
    # An event is recognised by the one key besides `t` that it carries.
    key_discriminator(
        _EVENT_KEYS, "timeline_event", "a timeline event needs t and one of: " + ", ".join(_EVENT_KEYS)
    ),
]


class BraceletSpec(StrictModel):
    """One bracelet, its initial state, its wearer's path and its scripted events."""

    device_id: str = Field(pattern=r"^[0-9a-f]{8}$", description="Device id, 8 lowercase hex digits.")
    key: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="Key, 32 lowercase hex digits; default: derived from the world seed (simulation only).",
    )
    battery_pct: float = Field(default=100.0, ge=0, le=100, description="Battery at the start, percent.")
    drain_pct_per_hour: float = Field(
        default=1.0, ge=0, le=100_000, description="Battery drain while idle, %/hour."
    )
    link_drain_pct_per_hour: float = Field(
        default=3.0, ge=0, le=100_000, description="Extra battery drain while a GATT link is up, %/hour."
    )
    charge_pct_per_hour: float = Field(
        default=60.0, ge=0, le=100_000, description="Battery gain while charging, %/hour."
    )
    strap_closed: bool = Field(default=True, description="Strap state at the start.")
    skin_contact: bool = Field(default=True, description="Skin contact at the start.")
    charging: bool = Field(default=False, description="On the charger at the start.")
    fever: bool = Field(default=False, description="Wearer has a fever at the start.")
    heart_rate_bpm: float = Field(
        default=72.0, ge=30, le=200, description="The wearer's resting heart rate, bpm."
    )
    body_temp_c: float = Field(
        default=36.5, ge=34, le=38, description="The wearer's normal body temperature, Celsius."
    )
    measured_power_dbm: int = Field(
        default=-59, ge=-100, le=0, description="RSSI a receiver sees at 1 m, dBm."
    )
    adv_interval_ms: int = Field(
        default=1000,
        ge=ADV_INTERVAL_RANGE_MS[0],
        le=ADV_INTERVAL_RANGE_MS[1],
        description="Advertising interval, ms (BLE adds 0-10 ms of random delay to each).",
    )
    clock_offset_s: float = Field(
        default=0.0, description="How far the bracelet's clock is off at the start, seconds."
    )
    clock_drift_ppm: float = Field(default=0.0, ge=-1000, le=1000, description="Bracelet clock drift, ppm.")
    clock_synced: bool = Field(
        default=False, description="Whether the bracelet's clock counts as synchronised at the start."
    )
    path: list[PathPoint] = Field(
        default_factory=list, description="The wearer's positions over time; empty: at the home's centre."
    )
    timeline: list[TimelineEvent] = Field(default_factory=list, description="Scripted events, any order.")

    @field_validator("path")
    @classmethod
    def _path_in_time_order(cls, path: list[PathPoint]) -> list[PathPoint]:
        for before, after in itertools.pairwise(path):
            if after.t < before.t:
                raise ValueError(f"path times must not decrease ({before.t} then {after.t})")
        return path

    def key_bytes(self, seed: int) -> bytes:
        """The bracelet's 16-byte key: the explicit one, or the one derived from `seed`."""
        return bytes.fromhex(self.key) if self.key else derive_key(seed, int(self.device_id, 16))


class Household(StrictModel):
    """A home under quarantine: the edge site covering it, its hub, its footprint and its bracelets."""

    id: str = Field(pattern=HUB_ID_PATTERN, description="Household id.")
    site_id: str = Field(pattern=SITE_ID_PATTERN, description="Site id of the edge agent covering this home.")
    hub: Hub
    home: Footprint
    bracelets: list[BraceletSpec] = Field(min_length=1, description="Bracelets worn in this home.")


class HouseholdSet(StrictModel):
    """The content of a households file."""

    households: list[Household] = Field(min_length=1, description="Every simulated household.")

    @model_validator(mode="after")
    def _unique_ids(self) -> HouseholdSet:
        check_unique_ids(self.households)
        return self


def check_unique_ids(households: Sequence[Household]) -> None:
    """Raise ValueError if a household id, hub id or device id appears twice."""
    for what, values in (
        ("household id", (h.id for h in households)),
        ("hub id", (h.hub.id for h in households)),
        ("device id", (b.device_id for h in households for b in h.bracelets)),
    ):
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"duplicate {what} {value!r}")
            seen.add(value)


def derive_key(seed: int, device_id: int) -> bytes:
    """A deterministic 16-byte key for simulated bracelets: HMAC-SHA256(seed, device id). Simulation only."""
    seed_bytes = KEY_DOMAIN + b":" + str(seed).encode("ascii")
    return hmac.digest(seed_bytes, device_id.to_bytes(4, "big"), hashlib.sha256)[:KEY_LEN]


def load_households(path: Path) -> list[Household]:
    """Read and validate a households file (YAML or JSON)."""
    return HouseholdSet.model_validate(read_settings_file(path)).households


def demo_households_path() -> Path:
    """The packaged demo scenario (four households)."""
    return Path(str(resources.files("firmware_sim") / "households" / "demo.yaml"))


def bracelet_keys(households: Iterable[Household], seed: int) -> dict[str, bytes]:
    """Every bracelet's key by device id (hex), as an edge agent's key registry needs them."""
    return {b.device_id: b.key_bytes(seed) for h in households for b in h.bracelets}


def households_by_site(households: Iterable[Household]) -> dict[str, list[Household]]:
    """Group households by the edge site covering them (one edge agent per site)."""
    out: dict[str, list[Household]] = {}
    for household in households:
        out.setdefault(household.site_id, []).append(household)
    return out
