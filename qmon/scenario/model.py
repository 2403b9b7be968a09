"""Scenario files: simulated households, what happens to them, and the alerts an officer must (not) get.

A scenario is YAML or JSON (docs/SCENARIOS.md). Times are simulated seconds from the scenario's start.
The households use the simulator's schema (firmware_sim/households.py): paths, strap, skin contact,
battery, charging, fever, radio, dropouts and interference are scripted per bracelet. On top of that a
scenario scripts outages of a household's hub (the edge agent loses power) and states its expectations:

- `alert`: an alert of this type about this bracelet reaches the officer's live feed after `after` and by
  `by`; with `cleared_by`, its condition also clears (the alert turns inactive) by then;
- `event`: the edge agent decides this event about this bracelet in the window (the evidence behind an alert);
- `no_alert`: no alert of this type (or `any`) about this bracelet (or any bracelet) in the window.

Unless `strict: false`, an alert that no `alert` expectation names is a failure of its own: a false alarm.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, Tag, model_validator

from cloud.rules import AlertType
from firmware_sim.households import Household, check_unique_ids
from firmware_sim.radio import RadioModel
from gateway.protocol import EventType
from qmon.settings import StrictModel, key_discriminator, read_settings_file

Seconds = Annotated[float, Field(ge=0, description="Simulated seconds from the scenario's start.")]
DeviceId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}$", description="A bracelet's device id.")]
WARD_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DEFAULT_WARD = "ward-1"
DEFAULT_SPEED = 20.0


class AlertExpectation(StrictModel):
    """An alert of type `alert` about `device` reaches the officer between `after` and `by`."""

    alert: AlertType = Field(description="Alert type, as the hub names it.")
    device: DeviceId
    after: Seconds = 0.0
    by: Seconds = Field(description="Deadline: the alert must have reached the officer's feed by then.")
    cleared_by: Seconds | None = Field(
        default=None, description="If set, the alert's condition must also have cleared by then."
    )

    def describe(self) -> str:
        """One line naming what is expected."""
        text = f"alert {self.alert.value} for {self.device} in [{self.after:g}, {self.by:g}] s"
        return text + (f", cleared by {self.cleared_by:g} s" if self.cleared_by is not None else "")


class EventExpectation(StrictModel):
    """The edge agent decides event `event` about `device` between `after` and `by`."""

    event: EventType = Field(description="Event type, as the edge publishes it.")
    device: DeviceId
    after: Seconds = 0.0
    by: Seconds

    def describe(self) -> str:
        """One line naming what is expected."""
        return f"event {self.event.value} for {self.device} in [{self.after:g}, {self.by:g}] s"


class NoAlertExpectation(StrictModel):
    """No alert of type `no_alert` (or `any` type) about `device` (default: any bracelet) in the window."""

    no_alert: AlertType | Literal["any"] = Field(description="Alert type that must not come, or `any`.")
    device: DeviceId | None = None
    after: Seconds = 0.0
    until: Seconds | None = Field(default=None, description="End of the window; default: the scenario's end.")

    def describe(self) -> str:
        """One line naming what must not happen."""
        who = self.device or "any bracelet"
        until = "the end" if self.until is None else f"{self.until:g}"
        return f"no {self.no_alert} alert for {who} in [{self.after:g}, {until}] s"


_EXPECTATION_KEYS = ("alert", "event", "no_alert")


Expectation = Annotated[
    Annotated[AlertExpectation, Tag("alert")]
    | Annotated[EventExpectation, Tag("event")]
    | Annotated[NoAlertExpectation, Tag("no_alert")],
    key_discriminator(
        _EXPECTATION_KEYS, "expectation", "an expectation needs one of: " + ", ".join(_EXPECTATION_KEYS)
    ),
]


class Outage(StrictModel):
    """The hub of `site` (its edge agent) loses power at `t` and comes back `for_s` seconds later."""

    site: str = Field(description="Site id of the edge agent that goes down.")
    t: Seconds
    for_s: float = Field(gt=0, le=86_400, description="How long it stays down, seconds.")


class Scenario(StrictModel):
    """One scenario file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="Short id, e.g. walk-out.")
    description: str = Field(default="", description="What the scenario plays and why it matters.")
    seed: int = Field(default=1, description="Seed of the radio noise and the bracelets' derived keys.")
    speed: float = Field(
        default=DEFAULT_SPEED, gt=0, le=100, description="Simulated seconds per real second."
    )
    duration_s: float = Field(gt=0, le=7 * 86_400, description="Simulated length of the scenario, seconds.")
    households: list[Household] = Field(min_length=1)
    radio: RadioModel = Field(default_factory=RadioModel, description="The radio channel's parameters.")
    wards: dict[str, str] = Field(
        default_factory=dict, description=f"Household id -> ward of its order (default {DEFAULT_WARD})."
    )
    edge: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted edge-settings overrides (e.g. vitals.fever_sustain_s: 60); default: production.",
    )
    hub: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted hub-settings overrides (e.g. rules.hub_offline_grace_s: 60); default production.",
    )
    outages: list[Outage] = Field(default_factory=list)
    expect: list[Expectation] = Field(min_length=1)
    strict: bool = Field(
        default=True, description="An alert no `alert` expectation names fails the scenario."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        check_unique_ids(self.households)
        devices = {b.device_id for h in self.households for b in h.bracelets}
        sites = {h.site_id for h in self.households}
        for household, ward in self.wards.items():
            if household not in {h.id for h in self.households}:
                raise ValueError(f"wards: no household {household!r}")
            if not re.match(WARD_PATTERN, ward):
                raise ValueError(f"wards: {ward!r} is not a ward id")
        for outage in self.outages:
            if outage.site not in sites:
                raise ValueError(
                    f"outage of unknown site {outage.site!r} (sites: {', '.join(sorted(sites))})"
                )
        for expectation in self.expect:
            device = expectation.device
            if device is not None and device not in devices:
                raise ValueError(f"{expectation.describe()}: no bracelet {device} in the households")
            end = getattr(expectation, "cleared_by", None) or getattr(expectation, "by", None)
            end = end or getattr(expectation, "until", None)
            if end is not None and end > self.duration_s:
                raise ValueError(f"{expectation.describe()}: ends after the scenario ({self.duration_s:g} s)")
            if end is not None and end < expectation.after:
                raise ValueError(f"{expectation.describe()}: the window ends before it starts")
        return self

    def ward_of(self, household_id: str) -> str:
        """The ward of the household's order."""
        return self.wards.get(household_id, DEFAULT_WARD)


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (YAML or JSON); ValueError with the file's name on bad content."""
    try:
        return Scenario.model_validate(read_settings_file(path))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
