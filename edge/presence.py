"""The presence engine: smoothed RSSI -> HOME / AWAY / UNKNOWN, signal lost and restored. Pure.

Time always comes in as an argument; nothing here reads a clock.

- Smoothing: a time-aware exponentially weighted mean. Each sample has weight 1 and every weight decays
  as exp(-age / tau), so irregular advert intervals, several receivers reporting the same advert at the
  same instant, and long gaps all weigh correctly (a plain EWMA with alpha = 1 - exp(-dt/tau) would
  ignore a second sample with dt = 0). Samples further than `outlier_clip_db` from the current estimate
  are clipped to that distance first: one multipath spike should not move the estimate by 30 dB.
- Hysteresis: HOME holds while the smoothed RSSI stays at or above the exit threshold; AWAY holds while
  it stays below the enter threshold (enter > exit). In the gap between them, both states are stable.
- Dwell: a state changes only after its condition held continuously for the dwell time, so a brief dip
  (the wearer turning their back to the hub, a door closing) does not end in an alert.
- Staleness: no new advert for `stale_after_s` -> SIGNAL_LOST with the evidence the hub needs to tell
  "faded then lost" (a probable exit) from "dropped out while strong" (hub, battery or radio failure).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from edge.decision import format_time
from gateway.protocol import EventType, PresenceState


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Smoothed-RSSI thresholds of one home: HOME needs >= enter_rssi, AWAY needs < exit_rssi."""

    enter_rssi: float
    exit_rssi: float
    calibrated: bool = False

    def __post_init__(self) -> None:
        if not self.enter_rssi > self.exit_rssi:
            raise ValueError("enter threshold must be above the exit threshold (hysteresis)")


@dataclass(frozen=True, slots=True)
class PresencePolicy:
    """How presence is decided. Defaults suit a 0 dBm bracelet and a hub in the middle of a small home."""

    # 10 s: at 1 Hz adverts and ~4 dB of per-sample noise, the estimate's noise falls below 1 dB while a
    # real walk out of the door still shows within about 10-20 s.
    tau_s: float = 10.0
    # Multipath spikes and nulls of 15-20 dB are common indoors; 12 dB clips them yet lets a real change
    # through within a few samples.
    outlier_clip_db: float | None = 12.0
    # Before a home is calibrated: about 10-15 m from the hub through a wall or two (measured power about
    # -59 dBm at 1 m, path-loss exponent about 2.5-3). The 8 dB gap is much wider than the smoothed noise.
    enter_rssi: float = -82.0
    exit_rssi: float = -90.0
    # Leaving must be sustained for 30 s (a shower, a closed door or lying on the bracelet rarely lasts
    # that long at -90 dBm); returning is confirmed faster because a false "returned" costs less.
    enter_dwell_s: float = 10.0
    exit_dwell_s: float = 30.0
    # 30 missed 1 Hz adverts: even at 50 % packet loss at the edge of range the chance of that by luck is
    # about 1e-9, while a wearer walking away is reported within about a minute.
    stale_after_s: float = 30.0
    trend_window_s: float = 30.0

    def __post_init__(self) -> None:
        if self.tau_s <= 0 or self.stale_after_s <= 0 or self.trend_window_s <= 0:
            raise ValueError("tau_s, stale_after_s and trend_window_s must be positive")
        if self.enter_dwell_s < 0 or self.exit_dwell_s < 0:
            raise ValueError("dwell times cannot be negative")
        if self.outlier_clip_db is not None and self.outlier_clip_db <= 0:
            raise ValueError("outlier_clip_db must be positive (or None for no clipping)")
        Thresholds(self.enter_rssi, self.exit_rssi)  # validates the hysteresis order

    @property
    def default_thresholds(self) -> Thresholds:
        """The thresholds used until a home is calibrated."""
        return Thresholds(self.enter_rssi, self.exit_rssi, calibrated=False)


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A presence decision before it is addressed to a device: type, time and evidence."""

    type: EventType
    time: float
    evidence: dict[str, Any]


_TREND_MAX_SAMPLES = 512  # bounds memory when several receivers report every advert


def _r1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class PresenceEngine:
    """Presence state of one bracelet."""

    def __init__(
        self,
        policy: PresencePolicy,
        *,
        started_at: float,
        state: PresenceState = PresenceState.UNKNOWN,
        lost: bool = False,
    ) -> None:
        self.policy = policy
        self.state = state
        self.lost = lost
        self.last_seen: float | None = None
        self.smoothed: float | None = None
        self._started_at = started_at
        self._lost_since: float | None = None
        self._num = 0.0
        self._den = 0.0
        self._last_sample: float | None = None
        self._below_since: float | None = None
        self._above_since: float | None = None
        self._state_since = started_at
        self._trend: deque[tuple[float, float]] = deque(maxlen=_TREND_MAX_SAMPLES)

    @property
    def reported_state(self) -> PresenceState:
        """The state for telemetry: UNKNOWN while the signal is lost."""
        return PresenceState.UNKNOWN if self.lost else self.state

    def observe(
        self, rssi: float, now: float, thresholds: Thresholds, *, new_event: bool = True
    ) -> list[PresenceChange]:
        """Take one RSSI sample; `new_event=False` for a repeated report (a sample, not a sign of life)."""
        changes: list[PresenceChange] = []
        if self.lost and new_event:
            changes.append(self._restore(rssi, now))
        self._add_sample(rssi, now)
        if new_event:
            self.last_seen = now
        self._evaluate(now, thresholds, changes)
        return changes

    def tick(self, now: float, thresholds: Thresholds) -> list[PresenceChange]:
        """Advance time without a sample: finish dwell times, detect staleness."""
        changes: list[PresenceChange] = []
        if self.lost:
            return changes
        reference = self._started_at if self.last_seen is None else self.last_seen
        if now - reference >= self.policy.stale_after_s:
            changes.append(self._lose(now, thresholds))
            return changes
        if self.smoothed is not None:
            self._evaluate(now, thresholds, changes)
        return changes

    def note_link(self, now: float) -> None:
        """A GATT connection proves the bracelet is in range: count it as seen (not as an RSSI sample)."""
        if not self.lost and self.last_seen is not None:
            self.last_seen = max(self.last_seen, now)

    def trend_db_per_min(self) -> float | None:
        """Least-squares slope of the RSSI samples over the trend window before the last one, dB/min."""
        if len(self._trend) < 3:
            return None
        end = self._trend[-1][0]
        points = [(t, x) for t, x in self._trend if t >= end - self.policy.trend_window_s]
        n = len(points)
        if n < 3:
            return None
        mean_t = sum(t for t, _ in points) / n
        mean_x = sum(x for _, x in points) / n
        var_t = sum((t - mean_t) ** 2 for t, _ in points)
        if var_t <= 1e-9:
            return None
        cov = sum((t - mean_t) * (x - mean_x) for t, x in points)
        return cov / var_t * 60.0

    # ---- internals ------------------------------------------------------------------------------------

    def _add_sample(self, rssi: float, now: float) -> None:
        smoothed = self.smoothed
        clip = self.policy.outlier_clip_db
        if smoothed is not None and clip is not None:
            rssi = min(max(rssi, smoothed - clip), smoothed + clip)
        if self._last_sample is not None and now > self._last_sample:
            decay = math.exp((self._last_sample - now) / self.policy.tau_s)
            self._num *= decay
            self._den *= decay
        if self._last_sample is None or now > self._last_sample:
            self._last_sample = now
        self._num += rssi
        self._den += 1.0
        self.smoothed = self._num / self._den
        trend = self._trend
        trend.append((now, rssi))
        horizon = now - self.policy.trend_window_s
        while trend[0][0] < horizon:
            trend.popleft()

    def _evaluate(self, now: float, th: Thresholds, changes: list[PresenceChange]) -> None:
        s = self.smoothed
        if s is None or self.lost:
            return
        state = self.state
        if state is not PresenceState.AWAY:
            if s < th.exit_rssi:
                if self._below_since is None:
                    self._below_since = now
                if now - self._below_since >= self.policy.exit_dwell_s:
                    changes.append(self._leave(now, th))
                    return
            else:
                self._below_since = None
        if state is not PresenceState.HOME:
            # From AWAY the wearer must come clearly back (enter); from UNKNOWN (start-up) anything not
            # below exit is consistent with being at home, which avoids a false alarm at start-up.
            threshold = th.enter_rssi if state is PresenceState.AWAY else th.exit_rssi
            if s >= threshold:
                if self._above_since is None:
                    self._above_since = now
                if now - self._above_since >= self.policy.enter_dwell_s:
                    change = self._enter(now, th)
                    if change is not None:
                        changes.append(change)
            else:
                self._above_since = None

    def _thresholds_evidence(self, th: Thresholds) -> dict[str, Any]:
        return {"enter_rssi": th.enter_rssi, "exit_rssi": th.exit_rssi, "calibrated": th.calibrated}

    def _leave(self, now: float, th: Thresholds) -> PresenceChange:
        below_since = now if self._below_since is None else self._below_since
        evidence = {
            "rssi": _r1(self.smoothed),
            "rssi_trend_db_per_min": _r1(self.trend_db_per_min()),
            "below_exit_s": round(now - below_since, 1),
            "previous": self.state.value,
            **self._thresholds_evidence(th),
        }
        self._switch(PresenceState.AWAY, now)
        return PresenceChange(EventType.LEFT_HOME, now, evidence)

    def _enter(self, now: float, th: Thresholds) -> PresenceChange | None:
        previous = self.state
        away_for = now - self._state_since
        self._switch(PresenceState.HOME, now)
        if previous is not PresenceState.AWAY:
            return None  # UNKNOWN -> HOME at start-up: nothing to clear at the hub
        evidence = {
            "rssi": _r1(self.smoothed),
            "away_for_s": round(away_for, 1),
            **self._thresholds_evidence(th),
        }
        return PresenceChange(EventType.RETURNED_HOME, now, evidence)

    def _switch(self, state: PresenceState, now: float) -> None:
        self.state = state
        self._state_since = now
        self._below_since = None
        self._above_since = None

    def _lose(self, now: float, th: Thresholds) -> PresenceChange:
        evidence: dict[str, Any] = {
            "last_rssi": _r1(self.smoothed),
            "rssi_trend_db_per_min": _r1(self.trend_db_per_min()),
            "last_seen": None if self.last_seen is None else format_time(self.last_seen),
            "silent_s": None if self.last_seen is None else round(now - self.last_seen, 1),
            "never_seen": self.last_seen is None,
            "presence": self.state.value,
            **self._thresholds_evidence(th),
        }
        self.lost = True
        self._lost_since = now
        self._below_since = None
        self._above_since = None
        return PresenceChange(EventType.SIGNAL_LOST, now, evidence)

    def _restore(self, rssi: float, now: float) -> PresenceChange:
        # Restart the filter: after a long silence the old estimate says nothing about the new position, and
        # clipping against it would slow the new one down.
        self._num = self._den = 0.0
        self.smoothed = None
        self._last_sample = None
        self._trend.clear()
        lost_for = None if self._lost_since is None else round(now - self._lost_since, 1)
        silent_for = None if self.last_seen is None else round(now - self.last_seen, 1)
        self.lost = False
        self._lost_since = None
        evidence = {
            "rssi": float(rssi),
            "lost_for_s": lost_for,
            "silent_s": silent_for,
            "presence": self.state.value,
        }
        return PresenceChange(EventType.SIGNAL_RESTORED, now, evidence)
