"""Camera-health checks on constructed frames: covered, dark, frozen, ok, with dwell and hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from edge.camera.health import (
    CameraHealth,
    HealthPolicy,
    classify_view,
    frames_identical,
    measure_frame,
)
from gateway.protocol import CameraState, EventType
from tests.support.camera import noisy, textured_frame

POLICY = HealthPolicy(frozen_after_s=10.0, blind_after_s=5.0, ok_after_s=3.0)
FPS = 5


def covered(seed: int) -> np.ndarray:
    return noisy(np.full((120, 160), 70, np.uint8), 1.5, seed)


def dark(seed: int, level: int = 10) -> np.ndarray:
    return noisy((textured_frame(3) * (level / 130)).astype(np.uint8), 1.0, seed)


def room(seed: int) -> np.ndarray:
    return noisy(textured_frame(3), 1.5, seed)


class Feed:
    """Feeds a CameraHealth at 5 frames per second and collects its events."""

    def __init__(self, state: CameraState = CameraState.OK) -> None:
        self.health = CameraHealth(POLICY, state)
        self.now = 0.0
        self.frame_no = 0
        self.events: list[tuple[float, EventType, dict]] = []

    def run(self, seconds: float, make) -> CameraState:
        view = CameraState.OK
        for _ in range(round(seconds * FPS)):
            self.now += 1 / FPS
            self.frame_no += 1
            view, changes = self.health.observe(make(self.frame_no), self.now)
            self.events.extend((c.time, c.type, c.evidence) for c in changes)
        return view

    def types(self) -> list[EventType]:
        return [t for _, t, _ in self.events]


def test_measures_tell_a_room_a_cover_and_darkness_apart() -> None:
    lit, cover, night = measure_frame(room(1)), measure_frame(covered(1)), measure_frame(dark(1))
    assert lit.contrast > 30 and lit.edge_density > 0.02
    assert cover.contrast < 5 and cover.edge_density == 0.0 and cover.brightness > 60
    assert night.brightness < 20


@pytest.mark.parametrize(
    ("frame", "expected"),
    [(room(2), CameraState.OK), (covered(2), CameraState.COVERED), (dark(2), CameraState.DARK)],
)
def test_classifies_one_frame(frame: np.ndarray, expected: CameraState) -> None:
    assert classify_view(measure_frame(frame), POLICY, CameraState.OK) is expected


def test_identical_means_bit_for_bit_up_to_the_tolerance() -> None:
    a = room(5)
    assert frames_identical(a, a.copy(), POLICY.frozen_tolerance)
    assert not frames_identical(a, room(6), POLICY.frozen_tolerance)  # sensor noise differs
    assert not frames_identical(a, a[:60], POLICY.frozen_tolerance)


def test_ok_feed_raises_nothing() -> None:
    feed = Feed()
    assert feed.run(60, room) is CameraState.OK
    assert feed.events == []


def test_covered_after_the_dwell_then_ok_after_its_dwell() -> None:
    feed = Feed()
    feed.run(5, room)
    assert feed.run(4.8, covered) is CameraState.COVERED
    assert feed.events == []
    feed.run(0.6, covered)
    assert feed.types() == [EventType.CAMERA_COVERED]
    _, _, data = feed.events[0]
    assert data["previous"] == "ok" and data["contrast"] < 10 and data["held_s"] >= 5
    feed.run(2.8, room)
    assert feed.types() == [EventType.CAMERA_COVERED]
    feed.run(0.6, room)
    assert feed.types() == [EventType.CAMERA_COVERED, EventType.CAMERA_OK]
    assert feed.events[1][2]["previous"] == "covered" and feed.events[1][2]["blind_for_s"] >= 3


def test_dark_after_the_dwell_and_a_brief_hand_over_the_lens_is_nothing() -> None:
    feed = Feed()
    feed.run(3, covered)  # a hand for 3 s
    feed.run(5, room)
    assert feed.events == []
    feed.run(6, dark)
    assert feed.types() == [EventType.CAMERA_DARK]
    assert feed.events[0][2]["brightness"] < 30


def test_dark_clears_only_above_the_clear_threshold() -> None:
    feed = Feed()
    feed.run(6, dark)
    feed.run(10, lambda n: dark(n, level=40))  # dim (mean ~36): no longer onset-dark, not yet clear
    assert feed.types() == [EventType.CAMERA_DARK]
    feed.run(4, room)
    assert feed.types() == [EventType.CAMERA_DARK, EventType.CAMERA_OK]


def test_frozen_after_identical_frames_for_the_dwell_then_ok() -> None:
    still = room(42)
    feed = Feed()
    feed.run(2, room)
    feed.run(9.4, lambda n: still)
    assert feed.events == []
    feed.run(1.0, lambda n: still)
    assert feed.types() == [EventType.CAMERA_FROZEN]
    assert feed.events[0][2]["frozen_s"] >= 10
    feed.run(4, room)
    assert feed.types() == [EventType.CAMERA_FROZEN, EventType.CAMERA_OK]


def test_a_state_restored_after_restart_is_cleared_when_the_view_is_fine() -> None:
    feed = Feed(CameraState.COVERED)
    feed.run(4, room)
    assert feed.types() == [EventType.CAMERA_OK]


def test_an_interruption_restarts_the_frozen_comparison() -> None:
    still = room(7)
    feed = Feed()
    feed.run(8, lambda n: still)
    feed.health.interrupt()  # the stream dropped and came back
    feed.run(8, lambda n: still)
    assert feed.events == []


def test_policy_refuses_inverted_hysteresis() -> None:
    with pytest.raises(ValueError):
        HealthPolicy(dark_luma=50, dark_clear_luma=40)
