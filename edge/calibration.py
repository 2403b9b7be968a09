"""Per-home calibration: learn a home's RSSI thresholds from the wearer's first hours at home. Pure.

Homes differ by tens of dB: a studio with the hub on the table sees the bracelet at -55 dBm everywhere, a
house with the hub behind two concrete walls sees -92 dBm in the far bedroom. One fixed exit threshold
either misses exits in the first or raises false ones in the second, so each home learns its own.

During the calibration period the tracker feeds the smoothed RSSI of the home's worn bracelets while
they are not AWAY (by the default thresholds) into a 1 dB histogram; at the end the home's thresholds are

    exit  = clamp(low percentile - margin, exit bounds)
    enter = exit + gap, lowered towards the median (never below exit + min gap) so that the wearer
            coming back into the usual rooms is recognised.

The period ends only once the samples also cover the home: their spread (95th minus 5th percentile) must
reach `min_spread_db`. A wearer who sat by the hub for the whole period has not shown where the far rooms
are, and a profile learned from that would call the bedroom "away"; such a home keeps the defaults and
goes on collecting until the wearer has moved about.

Until then the policy's default thresholds apply. The learned `HomeProfile` is handed to the agent to
persist, so it survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from edge.presence import Thresholds

_HIST_MIN = -127
_HIST_MAX = 20


@dataclass(frozen=True, slots=True)
class CalibrationPolicy:
    """How long and from how much data a home's thresholds are learned, and how they are derived."""

    # Six hours of the first day covers the rooms a person uses (kitchen, bathroom, bedroom at night).
    duration_s: float = 6 * 3600.0
    # One sample per bracelet per `sample_interval_s` (about one smoothing time constant, so samples are
    # not just copies of each other); 360 such samples are an hour of real at-home data.
    min_samples: int = 360
    sample_interval_s: float = 10.0
    # The 5th percentile ignores the odd deep fade; the 6 dB margin sits below the weakest rooms.
    percentile: float = 5.0
    margin_db: float = 6.0
    gap_db: float = 8.0
    min_gap_db: float = 4.0
    exit_min_rssi: float = -100.0  # below this a receiver loses adverts anyway; staleness takes over
    # A learned profile may raise the exit threshold only this far: a calibration that saw the wearer sit by
    # the hub must not turn the far bedroom into "away". -80 dBm is still above the RSSI just outside the
    # wall of a small flat (about -90 dBm for a bracelet of -59 dBm at 1 m, 8 m away, behind 10 dB of wall).
    exit_max_rssi: float = -80.0
    # Moving between the rooms of a home spans 10-20 dB (1 m to 6 m is 19 dB at a path-loss exponent of
    # 2.5); less means the samples saw one spot.
    min_spread_db: float = 10.0

    def __post_init__(self) -> None:
        if self.duration_s < 0 or self.min_samples < 1 or self.sample_interval_s < 0:
            raise ValueError("calibration duration, interval and min samples must be positive")
        if not 0 < self.percentile < 50:
            raise ValueError("percentile must be between 0 and 50")
        if self.min_gap_db <= 0 or self.gap_db < self.min_gap_db or self.margin_db < 0:
            raise ValueError("gap_db >= min_gap_db > 0 and margin_db >= 0 are required")
        if not self.exit_min_rssi < self.exit_max_rssi:
            raise ValueError("exit_min_rssi must be below exit_max_rssi")
        if self.min_spread_db < 0:
            raise ValueError("min_spread_db cannot be negative")


@dataclass(frozen=True, slots=True)
class HomeProfile:
    """A home's learned thresholds and the statistics they came from."""

    home_id: str
    enter_rssi: float
    exit_rssi: float
    samples: int
    low_rssi: float
    median_rssi: float
    learned_at: float

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds to apply."""
        return Thresholds(self.enter_rssi, self.exit_rssi, calibrated=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HomeProfile:
        """Read back `to_dict` output (validated through Thresholds)."""
        profile = cls(
            home_id=str(data["home_id"]),
            enter_rssi=float(data["enter_rssi"]),
            exit_rssi=float(data["exit_rssi"]),
            samples=int(data["samples"]),
            low_rssi=float(data["low_rssi"]),
            median_rssi=float(data["median_rssi"]),
            learned_at=float(data["learned_at"]),
        )
        _ = profile.thresholds
        return profile


def _percentile(histogram: list[int], total: int, pct: float) -> float:
    """The value below which `pct` % of the samples fall (bin value in dBm)."""
    rank = pct / 100.0 * total
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if count and seen >= rank:
            return float(_HIST_MIN + index)
    return float(_HIST_MAX)


def derive_profile(home_id: str, histogram: list[int], policy: CalibrationPolicy, now: float) -> HomeProfile:
    """Derive a home's thresholds from its histogram of in-home smoothed RSSI (1 dB bins from -127 dBm)."""
    total = sum(histogram)
    if total == 0:
        raise ValueError("no calibration samples")
    low = _percentile(histogram, total, policy.percentile)
    median = _percentile(histogram, total, 50.0)
    exit_rssi = min(max(low - policy.margin_db, policy.exit_min_rssi), policy.exit_max_rssi)
    enter_rssi = exit_rssi + policy.gap_db
    if enter_rssi > median:
        enter_rssi = max(exit_rssi + policy.min_gap_db, median)
    return HomeProfile(
        home_id=home_id,
        enter_rssi=enter_rssi,
        exit_rssi=exit_rssi,
        samples=total,
        low_rssi=low,
        median_rssi=median,
        learned_at=now,
    )


class HomeCalibration:
    """Calibration state of one home, shared by the trackers of the bracelets assigned to it."""

    def __init__(
        self,
        home_id: str,
        policy: CalibrationPolicy,
        defaults: Thresholds,
        profile: HomeProfile | None = None,
    ) -> None:
        self.home_id = home_id
        self.policy = policy
        self.profile = profile
        self.thresholds = profile.thresholds if profile is not None else defaults
        self.started_at: float | None = None
        self.samples = 0
        self._histogram = [0] * (_HIST_MAX - _HIST_MIN + 1)
        self._learned: HomeProfile | None = None

    @property
    def calibrated(self) -> bool:
        """True once the home has its own thresholds."""
        return self.profile is not None

    def add_sample(self, smoothed_rssi: float, now: float) -> HomeProfile | None:
        """Record one in-home smoothed RSSI; return the profile at the moment it is learned."""
        if self.profile is not None:
            return None
        if self.started_at is None:
            self.started_at = now
        index = min(max(round(smoothed_rssi) - _HIST_MIN, 0), len(self._histogram) - 1)
        self._histogram[index] += 1
        self.samples += 1
        if (
            self.samples >= self.policy.min_samples
            and now - self.started_at >= self.policy.duration_s
            and self.spread_db() >= self.policy.min_spread_db
        ):
            profile = derive_profile(self.home_id, self._histogram, self.policy, now)
            self.profile = profile
            self.thresholds = profile.thresholds
            self._learned = profile
            return profile
        return None

    def spread_db(self) -> float:
        """How much of the home the samples cover: 95th minus 5th percentile of the smoothed RSSI, dB."""
        if self.samples == 0:
            return 0.0
        return _percentile(self._histogram, self.samples, 95.0) - _percentile(
            self._histogram, self.samples, 5.0
        )

    def take_learned(self) -> HomeProfile | None:
        """The profile learned since the last call (for the agent to persist), once."""
        learned, self._learned = self._learned, None
        return learned
