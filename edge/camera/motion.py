"""Motion gating: run the face detector only when the scene changed or a re-check is due (as NVRs do).

Pure: frames come in as small greyscale arrays (frames.small_gray) and time as an argument. The
reference is the frame the detector last ran on, so slow drift adds up until it triggers a new run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class MotionPolicy:
    """When a frame counts as changed."""

    # Grey levels a small (area-averaged) pixel must move: a 4 x 4 average of sensor noise stays ~1 level.
    pixel_delta: int = 12
    # Share of small pixels that must move: 0.2 % of 160 x 120 is ~40 pixels, a head turning or a hand.
    min_changed: float = 0.002
    # Run the detector at least this often anyway, seconds: people sitting still must not vanish.
    recheck_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.pixel_delta < 256 or not 0 <= self.min_changed <= 1 or self.recheck_s < 0:
            raise ValueError("pixel_delta 1-255, min_changed 0-1 and recheck_s >= 0")


def changed_fraction(a: NDArray[np.uint8], b: NDArray[np.uint8], pixel_delta: int) -> float:
    """Share of pixels whose grey level differs by more than `pixel_delta` between two equal-size frames."""
    if a.shape != b.shape:
        return 1.0
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(np.count_nonzero(diff > pixel_delta)) / diff.size


class MotionGate:
    """Decides per frame whether the detector must run."""

    def __init__(self, policy: MotionPolicy) -> None:
        self.policy = policy
        self._reference: NDArray[np.uint8] | None = None
        self._last_run = float("-inf")

    def should_detect(self, gray: NDArray[np.uint8], now: float) -> bool:
        """True if the scene moved since the last detector run or the re-check is due; the frame then
        becomes the new reference."""
        policy = self.policy
        due = (
            self._reference is None
            or now - self._last_run >= policy.recheck_s
            or changed_fraction(gray, self._reference, policy.pixel_delta) >= policy.min_changed
        )
        if due:
            self._reference = gray
            self._last_run = now
        return due

    def reset(self) -> None:
        """Forget the reference (after a gap in the stream): the next frame runs the detector."""
        self._reference = None
