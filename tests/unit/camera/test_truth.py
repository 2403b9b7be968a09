"""The simulator's ground truth of expected room events, from labels alone."""

from __future__ import annotations

from firmware_sim.camera.render import FrameLabel
from firmware_sim.camera.truth import Dwells, expected_events, match_events
from gateway.protocol import CameraState, EventType

OK, COVERED = CameraState.OK, CameraState.COVERED
DWELLS = Dwells(absent_after_s=10, present_after_s=2, crowd_after_s=5, normal_after_s=5, blind_after_s=2)


def labels(*spans: tuple[float, int, CameraState]) -> list[FrameLabel]:
    """Spans of (seconds, faces, camera) at 5 frames per second."""
    out, t = [], 0.0
    for seconds, faces, camera in spans:
        for _ in range(round(seconds * 5)):
            out.append(FrameLabel(len(out), t, faces, camera))
            t += 0.2
    return out


def test_long_absence_and_return() -> None:
    events = expected_events(labels((5, 1, OK), (15, 0, OK), (10, 1, OK)), DWELLS)
    assert [e for _, e in events] == [EventType.PERSON_ABSENT, EventType.PERSON_PRESENT]


def test_short_spans_expect_nothing() -> None:
    assert (
        expected_events(labels((5, 1, OK), (8, 0, OK), (3, 2, OK), (1, 1, COVERED), (10, 1, OK)), DWELLS)
        == []
    )


def test_crowd_and_cover_with_their_clears() -> None:
    events = expected_events(labels((5, 1, OK), (8, 2, OK), (8, 1, OK), (4, 0, COVERED), (5, 1, OK)), DWELLS)
    assert [e for _, e in events] == [
        EventType.OCCUPANCY_EXCEEDED,
        EventType.OCCUPANCY_NORMAL,
        EventType.CAMERA_COVERED,
        EventType.CAMERA_OK,
    ]


def test_matching_counts_hits_missing_and_extra() -> None:
    hits, missing, extra = match_events(
        [EventType.CAMERA_OK, EventType.CAMERA_OK, EventType.CAMERA_DARK],
        [EventType.CAMERA_OK, EventType.CAMERA_DARK, EventType.FEVER],
    )
    assert hits == 2 and missing == [EventType.CAMERA_OK] and extra == [EventType.FEVER]
