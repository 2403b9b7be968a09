"""Detectors for what the bracelet says about itself: strap, wear, battery, fever. Pure.

Each detector sees every new advert state of one bracelet (not repeated reports) with the time, and
returns the onsets and clears it decides, each with its evidence. Each remembers only what it last
reported (`reported`), which the agent persists so that a restart neither repeats an onset nor forgets
to send the clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.decision import Decision
from gateway.protocol import EventType
from qmon.bracelet.advert import BraceletState

Finding = tuple[EventType, dict[str, Any]]
MAX_READING_GAP_S = 60.0  # longer without a reading and a temperature is no longer "sustained"


@dataclass(frozen=True, slots=True)
class VitalsPolicy:
    """Thresholds of the vitals detectors."""

    # Skin contact flickers when the strap is loose or the arm is raised; 10 s without contact is removal.
    removed_debounce_s: float = 10.0
    # Low at 15 % (about a day left at 1 Hz advertising), ok again at 20 % so that a battery hovering at
    # the threshold does not alternate; charging always counts as ok.
    battery_low_pct: int = 15
    battery_ok_pct: int = 20
    # The bracelet reports a body-temperature estimate (Health Thermometer type "body"). 37.5 C is the
    # screening threshold used by Vietnam's Ministry of Health for Covid-19; it must hold for 5 minutes so
    # that a hot shower or the sun on the wrist does not raise an alert. Cleared below 37.0 C for 2 min.
    fever_c: float = 37.5
    fever_clear_c: float = 37.0
    fever_sustain_s: float = 300.0
    fever_clear_s: float = 120.0

    def __post_init__(self) -> None:
        if self.removed_debounce_s < 0 or self.fever_sustain_s < 0 or self.fever_clear_s < 0:
            raise ValueError("durations cannot be negative")
        if not 0 <= self.battery_low_pct < self.battery_ok_pct <= 100:
            raise ValueError("battery thresholds need 0 <= low < ok <= 100")
        if not self.fever_clear_c < self.fever_c:
            raise ValueError("fever_clear_c must be below fever_c")


class StrapDetector:
    """STRAP_OPENED on closed -> open (and at first sight if already open); STRAP_CLOSED on open -> closed."""

    def __init__(self, reported_open: bool | None = None) -> None:
        self.reported: bool | None = reported_open

    def observe(self, state: BraceletState, now: float) -> list[Finding]:
        """Compare the strap flag with what was last reported."""
        is_open = not state.strap_closed
        if is_open == self.reported:
            return []
        first_sight = self.reported is None
        self.reported = is_open
        if first_sight and not is_open:
            return []
        evidence = {
            "skin_contact": state.skin_contact,
            "charging": state.charging,
            "battery": state.battery_pct,
        }
        if is_open:
            return [(EventType.STRAP_OPENED, {**evidence, "first_sight": first_sight})]
        return [(EventType.STRAP_CLOSED, evidence)]


class WearDetector:
    """BRACELET_REMOVED after skin contact has been absent for the debounce time; BRACELET_WORN when back."""

    def __init__(self, policy: VitalsPolicy, reported_removed: bool = False) -> None:
        self.policy = policy
        self.reported = reported_removed
        self._off_since: float | None = None

    def observe(self, state: BraceletState, now: float) -> list[Finding]:
        """Debounce the skin-contact flag."""
        if state.skin_contact:
            self._off_since = None
            if self.reported:
                self.reported = False
                return [(EventType.BRACELET_WORN, {"strap_closed": state.strap_closed})]
            return []
        if self._off_since is None:
            self._off_since = now
        if not self.reported and now - self._off_since >= self.policy.removed_debounce_s:
            self.reported = True
            return [
                (
                    EventType.BRACELET_REMOVED,
                    {
                        "no_contact_s": round(now - self._off_since, 1),
                        "strap_closed": state.strap_closed,
                        "charging": state.charging,
                        "battery": state.battery_pct,
                    },
                )
            ]
        return []


class BatteryDetector:
    """BATTERY_LOW at or below the low threshold unless charging; BATTERY_OK at the ok one or charging."""

    def __init__(self, policy: VitalsPolicy, reported_low: bool = False) -> None:
        self.policy = policy
        self.reported = reported_low

    def observe(self, state: BraceletState, now: float) -> list[Finding]:
        """Apply the hysteresis; the advert's low-battery flag stands in when the level is unknown."""
        pct = state.battery_pct
        if state.charging:
            low, ok = False, True
        elif pct is None:
            low, ok = state.low_battery, not state.low_battery
        else:
            low, ok = pct <= self.policy.battery_low_pct, pct >= self.policy.battery_ok_pct
        evidence = {"battery": pct, "charging": state.charging, "low_battery_flag": state.low_battery}
        if not self.reported and low:
            self.reported = True
            return [(EventType.BATTERY_LOW, evidence)]
        if self.reported and ok:
            self.reported = False
            return [(EventType.BATTERY_OK, evidence)]
        return []


class FeverDetector:
    """FEVER when the temperature stays at or above the threshold; FEVER_CLEARED when below the lower one.

    Only readings taken with skin contact count: a bracelet on a table reads the room.
    """

    def __init__(self, policy: VitalsPolicy, reported_fever: bool = False) -> None:
        self.policy = policy
        self.reported = reported_fever
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._peak: float | None = None
        self._last_at: float | None = None

    def observe(self, state: BraceletState, now: float) -> list[Finding]:
        """Track how long the temperature has been on either side of the thresholds."""
        temp = state.skin_temp_c
        previous, self._last_at = self._last_at, now
        if (
            temp is None
            or not state.skin_contact
            or (previous is not None and now - previous > MAX_READING_GAP_S)
        ):
            # "Sustained" means observed throughout: a gap (or a reading off the skin) restarts the timers.
            self._above_since = self._below_since = None
        if temp is None or not state.skin_contact:
            return []
        policy = self.policy
        if temp >= policy.fever_c:
            self._below_since = None
            if self._above_since is None:
                self._above_since = now
                self._peak = temp
            self._peak = max(self._peak or temp, temp)
            if not self.reported and now - self._above_since >= policy.fever_sustain_s:
                self.reported = True
                return [
                    (
                        EventType.FEVER,
                        {
                            "temp_c": temp,
                            "peak_c": self._peak,
                            "sustained_s": round(now - self._above_since, 1),
                            "threshold_c": policy.fever_c,
                        },
                    )
                ]
            return []
        self._above_since = None
        if temp < policy.fever_clear_c:
            if self._below_since is None:
                self._below_since = now
            if self.reported and now - self._below_since >= policy.fever_clear_s:
                self.reported = False
                return [
                    (
                        EventType.FEVER_CLEARED,
                        {
                            "temp_c": temp,
                            "sustained_s": round(now - self._below_since, 1),
                            "threshold_c": policy.fever_clear_c,
                        },
                    )
                ]
        else:
            self._below_since = None
        return []


class VitalsDetectors:
    """All vitals detectors of one bracelet."""

    def __init__(
        self, device_id: str, policy: VitalsPolicy, reported: Mapping[str, bool | None] | None = None
    ) -> None:
        reported = reported or {}
        self.device_id = device_id
        self.strap = StrapDetector(reported.get("strap_open"))
        self.wear = WearDetector(policy, bool(reported.get("removed", False)))
        self.battery = BatteryDetector(policy, bool(reported.get("battery_low", False)))
        self.fever = FeverDetector(policy, bool(reported.get("fever", False)))

    def observe(self, state: BraceletState, now: float) -> list[Decision]:
        """Run every detector on a new advert state."""
        findings = (
            self.strap.observe(state, now)
            + self.wear.observe(state, now)
            + self.battery.observe(state, now)
            + self.fever.observe(state, now)
        )
        return [Decision(self.device_id, kind, now, data) for kind, data in findings]

    def snapshot(self) -> dict[str, bool | None]:
        """What was last reported, to persist."""
        return {
            "strap_open": self.strap.reported,
            "removed": self.wear.reported,
            "battery_low": self.battery.reported,
            "fever": self.fever.reported,
        }
