"""Camera health: covered, dark or frozen, decided with hysteresis and dwell. Pure.

Measures come from the small greyscale frame (frames.small_gray):
- dark: low mean luminance (lights off, night without infrared);
- covered: little contrast and almost no edges (a hand, tape or cloth on the lens) while not dark; a black
  cover on the lens reads as dark: the two cannot be told apart from the picture, and both blind the room;
- frozen: identical frames (the stream repeats one picture) for `frozen_after_s`; real sensors always add
  some noise, so two live frames never match exactly.
Each condition must hold for its dwell before it is reported, and the clear thresholds sit beyond the onset
thresholds, so a flickering light or a moment of a hand in front of the lens does not alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway.protocol import CameraState, EventType

DEFAULT_EDGE_STEP = 24
_EVENT = {
    CameraState.COVERED: EventType.CAMERA_COVERED,
    CameraState.DARK: EventType.CAMERA_DARK,
    CameraState.FROZEN: EventType.CAMERA_FROZEN,
    CameraState.OK: EventType.CAMERA_OK,
}


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Thresholds (on a 0-255 grey scale) and dwell times of the health checks."""

    # Mean luminance under 30 is a room with the lights off for an ordinary (non-IR) camera.
    dark_luma: float = 30.0
    dark_clear_luma: float = 40.0
    # A furnished room has a luminance spread of 30-60 and a few % of edge pixels; a covered lens < 10
    # and almost none.
    covered_contrast: float = 10.0
    covered_clear_contrast: float = 14.0
    covered_edges: float = 0.004
    covered_clear_edges: float = 0.008
    edge_step: int = DEFAULT_EDGE_STEP  # grey-level step between neighbouring small pixels that is an edge
    frozen_tolerance: float = 0.2  # mean absolute difference still counted as "the same frame"
    frozen_after_s: float = 10.0
    blind_after_s: float = 5.0  # covered or dark must hold this long before it is reported
    ok_after_s: float = 3.0  # and a clear view this long before CAMERA_OK

    def __post_init__(self) -> None:
        if self.dark_clear_luma < self.dark_luma or self.covered_clear_contrast < self.covered_contrast:
            raise ValueError("clear thresholds must not be below the onset thresholds (hysteresis)")
        if self.covered_clear_edges < self.covered_edges:
            raise ValueError("covered_clear_edges must not be below covered_edges")
        if min(self.frozen_after_s, self.blind_after_s, self.ok_after_s, self.frozen_tolerance) < 0:
            raise ValueError("dwell times and tolerance cannot be negative")


@dataclass(frozen=True, slots=True)
class FrameStats:
    """What the health checks read from one frame."""

    brightness: float  # mean luminance 0-255
    contrast: float  # standard deviation of luminance
    edge_density: float  # share of pixels on a strong edge


@dataclass(frozen=True, slots=True)
class HealthChange:
    """A reported change of the camera's state, with its evidence."""

    type: EventType
    time: float
    evidence: dict[str, Any]


def measure_frame(gray: NDArray[np.uint8], edge_step: int = DEFAULT_EDGE_STEP) -> FrameStats:
    """Brightness, contrast and edge density of a small greyscale frame."""
    values = gray.astype(np.int16)
    steps_x = np.abs(np.diff(values, axis=1))[:-1, :]
    steps_y = np.abs(np.diff(values, axis=0))[:, :-1]
    edges = np.count_nonzero(np.maximum(steps_x, steps_y) > edge_step)
    size = max(1, steps_x.size)
    return FrameStats(float(gray.mean()), float(gray.std()), float(edges) / size)


def frames_identical(a: NDArray[np.uint8], b: NDArray[np.uint8], tolerance: float) -> bool:
    """Whether two small frames are the same picture (mean absolute difference within `tolerance`)."""
    if a.shape != b.shape:
        return False
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16)))) <= tolerance


def classify_view(stats: FrameStats, policy: HealthPolicy, current: CameraState) -> CameraState:
    """DARK, COVERED or OK for one frame; the thresholds of the state being left apply (hysteresis)."""
    dark_limit = policy.dark_clear_luma if current is CameraState.DARK else policy.dark_luma
    if stats.brightness < dark_limit:
        return CameraState.DARK
    if current is CameraState.COVERED:
        contrast, edges = policy.covered_clear_contrast, policy.covered_clear_edges
    else:
        contrast, edges = policy.covered_contrast, policy.covered_edges
    if stats.contrast < contrast and stats.edge_density < edges:
        return CameraState.COVERED
    return CameraState.OK


def _r(value: float, digits: int = 1) -> float:
    return round(value, digits)


class CameraHealth:
    """The reported state of one camera, moved only by conditions that held for their dwell."""

    def __init__(self, policy: HealthPolicy, state: CameraState = CameraState.OK) -> None:
        self.policy = policy
        self.state: CameraState = CameraState.OK if state is CameraState.OFFLINE else state
        self.stats: FrameStats | None = None
        self._previous: NDArray[np.uint8] | None = None
        self._previous_at = 0.0
        self._identical_since: float | None = None
        self._candidate: CameraState | None = None
        self._candidate_since = 0.0
        self._state_since: float | None = None

    def frozen_for(self, now: float) -> float:
        """Seconds the picture has not changed at all (0 when it is live)."""
        return 0.0 if self._identical_since is None else now - self._identical_since

    def observe(self, gray: NDArray[np.uint8], now: float) -> tuple[CameraState, list[HealthChange]]:
        """Take one small greyscale frame: its instantaneous view state and any reported change."""
        policy = self.policy
        stats = measure_frame(gray, policy.edge_step)
        self.stats = stats
        if self._previous is not None and frames_identical(gray, self._previous, policy.frozen_tolerance):
            if self._identical_since is None:
                self._identical_since = self._previous_at  # the picture has been the same since then
        else:
            self._identical_since = None
        self._previous, self._previous_at = gray, now
        view = classify_view(stats, policy, self.state)
        if view is CameraState.OK and (
            self.frozen_for(now) >= policy.frozen_after_s
            or (self.state is CameraState.FROZEN and self._identical_since is not None)
        ):
            view = CameraState.FROZEN
        return view, self._settle(view, stats, now)

    def interrupt(self) -> None:
        """The stream dropped: the next frame starts a fresh comparison (the reported state stays)."""
        self._previous = None
        self._identical_since = None
        self._candidate = None

    def _settle(self, view: CameraState, stats: FrameStats, now: float) -> list[HealthChange]:
        if view is self.state:
            self._candidate = None
            return []
        if view is not self._candidate:
            self._candidate, self._candidate_since = view, now
        held = now - self._candidate_since
        policy = self.policy
        # Frozen already waited frozen_after_s of identical frames; the others wait their dwell here.
        dwell = {CameraState.OK: policy.ok_after_s, CameraState.FROZEN: 0.0}.get(view, policy.blind_after_s)
        if held < dwell:
            return []
        previous, since = self.state, self._state_since
        self.state, self._state_since, self._candidate = view, now, None
        evidence: dict[str, Any] = {
            "previous": previous.value,
            "brightness": _r(stats.brightness),
            "contrast": _r(stats.contrast),
            "edge_density": _r(stats.edge_density, 4),
            "held_s": _r(held),
        }
        if view is CameraState.FROZEN:
            evidence["frozen_s"] = _r(self.frozen_for(now))
        if view is CameraState.OK:
            evidence["blind_for_s"] = None if since is None else _r(now - since)
        return [HealthChange(_EVENT[view], now, evidence)]
