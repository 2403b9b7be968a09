"""The motion gate: detector runs on change or when the re-check is due."""

from __future__ import annotations

import numpy as np

from edge.camera.motion import MotionGate, MotionPolicy, changed_fraction
from tests.support.camera import noisy, textured_frame


def test_changed_fraction_counts_pixels_beyond_the_delta() -> None:
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[:2, :5] = 13
    assert changed_fraction(a, b, 12) == 0.1
    assert changed_fraction(a, b, 13) == 0.0
    assert changed_fraction(a, b[:5], 12) == 1.0


def test_first_frame_runs_then_still_frames_wait_for_the_recheck() -> None:
    gate = MotionGate(MotionPolicy(recheck_s=2.0))
    scene = textured_frame(1)
    assert gate.should_detect(noisy(scene, 1.0, 0), 0.0)
    runs = [gate.should_detect(noisy(scene, 1.0, i), i * 0.2) for i in range(1, 21)]
    assert runs.count(True) == 2  # at 2.0 s and 4.0 s: sensor noise is not motion


def test_a_moving_head_runs_the_detector_at_once() -> None:
    gate = MotionGate(MotionPolicy(recheck_s=60.0))
    scene = textured_frame(1)
    gate.should_detect(scene, 0.0)
    moved = scene.copy()
    moved[40:60, 60:80] = 255 - moved[40:60, 60:80]  # 400 pixels, 2 % of the frame
    assert gate.should_detect(moved, 0.2)
    assert not gate.should_detect(moved, 0.4)  # the moved frame is the new reference


def test_reset_forces_a_run() -> None:
    gate = MotionGate(MotionPolicy(recheck_s=60.0))
    scene = textured_frame(2)
    gate.should_detect(scene, 0.0)
    gate.reset()
    assert gate.should_detect(scene, 0.2)
