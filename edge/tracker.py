"""One tracker per bracelet: presence, calibration samples and vitals combined into decisions. Pure."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.calibration import HomeCalibration
from edge.decision import Decision
from edge.decoder import BraceletAdvert
from edge.presence import PresenceChange, PresenceEngine, PresencePolicy
from edge.vitals import VitalsDetectors, VitalsPolicy
from gateway.protocol import EventType, PresenceState, Reading, utc_from_timestamp
from qmon.bracelet.advert import BraceletState

BATTERY_TREND_WINDOW_S = 2 * 3600.0
DEFAULT_PATH_LOSS_EXPONENT = 2.5  # indoor, a few walls; only for the telemetry's distance estimate


@dataclass(frozen=True, slots=True)
class TrackerSnapshot:
    """What the hub was last told about a bracelet, persisted across agent restarts."""

    presence: PresenceState = PresenceState.UNKNOWN
    lost: bool = False
    vitals: Mapping[str, bool | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"presence": self.presence.value, "lost": self.lost, "vitals": dict(self.vitals)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackerSnapshot:
        """Read back `to_dict` output."""
        vitals = data.get("vitals") or {}
        return cls(
            presence=PresenceState(data.get("presence", PresenceState.UNKNOWN.value)),
            lost=bool(data.get("lost", False)),
            vitals={str(k): (None if v is None else bool(v)) for k, v in dict(vitals).items()},
        )


class BraceletTracker:
    """Everything the edge decides about one bracelet."""

    def __init__(
        self,
        device_id: str,
        *,
        home_id: str,
        presence: PresencePolicy,
        vitals: VitalsPolicy,
        calibration: HomeCalibration,
        started_at: float,
        snapshot: TrackerSnapshot | None = None,
        path_loss_exponent: float = DEFAULT_PATH_LOSS_EXPONENT,
    ) -> None:
        snapshot = snapshot or TrackerSnapshot()
        self.device_id = device_id
        self.home_id = home_id
        self.calibration = calibration
        self.presence = PresenceEngine(
            presence, started_at=started_at, state=snapshot.presence, lost=snapshot.lost
        )
        self.vitals = VitalsDetectors(device_id, vitals, snapshot.vitals)
        self.last_state: BraceletState | None = None
        self.last_address: str | None = None
        self.last_time: float | None = None
        self._path_loss_exponent = path_loss_exponent
        self._adverts = 0
        self._last_calibration_sample = float("-inf")
        self._battery_history: deque[tuple[float, int]] = deque(maxlen=64)

    # ---- inputs -----------------------------------------------------------------------------------------

    def observe(self, advert: BraceletAdvert, now: float, *, duplicate: bool = False) -> list[Decision]:
        """Take one accepted advert; a `duplicate` report only adds an RSSI sample."""
        presence = self.presence
        changes = presence.observe(advert.rssi, now, self.calibration.thresholds, new_event=not duplicate)
        decisions = [self._address(change) for change in changes] if changes else []
        if duplicate:
            return decisions
        state = advert.state
        self.last_state = state
        self.last_address = advert.address
        self.last_time = now
        self._adverts += 1
        if state.battery_pct is not None and (
            not self._battery_history or self._battery_history[-1][1] != state.battery_pct
        ):
            self._battery_history.append((now, state.battery_pct))
        calibration = self.calibration
        if (
            calibration.profile is None
            and state.skin_contact
            and presence.state is not PresenceState.AWAY
            and presence.smoothed is not None
            and now - self._last_calibration_sample >= calibration.policy.sample_interval_s
        ):
            # Worn and not away: a bracelet lying next to the hub would teach a far too strong profile.
            self._last_calibration_sample = now
            calibration.add_sample(presence.smoothed, now)
        vitals = self.vitals.observe(state, now)
        if vitals:
            decisions.extend(vitals)
        return decisions

    def tick(self, now: float) -> list[Decision]:
        """Advance time: dwell times and staleness."""
        changes = self.presence.tick(now, self.calibration.thresholds)
        return [self._address(change) for change in changes]

    def note_link(self, now: float) -> None:
        """A GATT connection to the bracelet succeeded (it stops advertising meanwhile)."""
        self.presence.note_link(now)

    # ---- outputs ----------------------------------------------------------------------------------------

    @property
    def presence_state(self) -> PresenceState:
        """HOME, AWAY, or UNKNOWN (including while the signal is lost)."""
        return self.presence.reported_state

    def battery_trend_pct_per_h(self) -> float | None:
        """Battery change over the last two hours, % per hour (None without enough history)."""
        if self.last_state is None or self.last_state.battery_pct is None or self.last_time is None:
            return None
        horizon = self.last_time - BATTERY_TREND_WINDOW_S
        first = next(((t, pct) for t, pct in self._battery_history if t >= horizon), None)
        if first is None or self.last_time - first[0] < 60.0:
            return None
        return round((self.last_state.battery_pct - first[1]) / ((self.last_time - first[0]) / 3600.0), 2)

    def reading(self, now: float) -> Reading | None:
        """The telemetry reading (None if never seen); resets the advert count since the previous reading."""
        state, last_time = self.last_state, self.last_time
        if state is None or last_time is None:
            return None
        adverts, self._adverts = self._adverts, 0
        smoothed = self.presence.smoothed
        rssi = None if smoothed is None else round(min(max(smoothed, -127.0), 20.0), 1)
        distance = None
        if rssi is not None:
            distance = round(10 ** ((state.measured_power_dbm - rssi) / (10 * self._path_loss_exponent)), 2)
        return Reading(
            device_id=self.device_id,
            time=utc_from_timestamp(last_time),
            presence=self.presence_state,
            rssi=rssi,
            distance_m=distance,
            battery=state.battery_pct,
            heart_rate=state.heart_rate_bpm,
            skin_temp_c=state.skin_temp_c,
            strap_closed=state.strap_closed,
            skin_contact=state.skin_contact,
            charging=state.charging,
            adverts=adverts,
        )

    def snapshot(self) -> TrackerSnapshot:
        """What has been reported, to persist."""
        return TrackerSnapshot(
            presence=self.presence.state, lost=self.presence.lost, vitals=self.vitals.snapshot()
        )

    def _address(self, change: PresenceChange) -> Decision:
        data = change.evidence
        if change.type is EventType.SIGNAL_LOST:
            state = self.last_state
            data = {
                **data,
                "last_battery": None if state is None else state.battery_pct,
                "battery_trend_pct_per_h": self.battery_trend_pct_per_h(),
                "low_battery": None if state is None else state.low_battery,
                "charging": None if state is None else state.charging,
                "strap_closed": None if state is None else state.strap_closed,
                "skin_contact": None if state is None else state.skin_contact,
            }
        return Decision(self.device_id, change.type, change.time, data)
