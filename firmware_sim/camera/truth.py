"""The room events a correct edge must raise for a labelled video, given its dwell times.

Derived from the frame labels alone (not from the edge's code): a span of a condition that lasts at least
its dwell must raise its onset event, and the end of such a span (if the video goes on long enough for
the clear dwell) its clear event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from firmware_sim.camera.render import FrameLabel
from gateway.protocol import CameraState, EventType

T = TypeVar("T")
_ONSET = {
    CameraState.COVERED: EventType.CAMERA_COVERED,
    CameraState.DARK: EventType.CAMERA_DARK,
    CameraState.FROZEN: EventType.CAMERA_FROZEN,
}


@dataclass(frozen=True, slots=True)
class Dwells:
    """The edge's dwell times the truth is computed for (seconds) and the room's allowed count."""

    allowed: int = 1
    absent_after_s: float = 60.0
    present_after_s: float = 5.0
    crowd_after_s: float = 30.0
    normal_after_s: float = 15.0
    blind_after_s: float = 5.0
    frozen_after_s: float = 10.0
    ok_after_s: float = 3.0


def _spans(labels: Sequence[FrameLabel], key: Callable[[FrameLabel], T]) -> list[tuple[T, float, float]]:
    spans: list[tuple[T, float, float]] = []
    for label in labels:
        value = key(label)
        if spans and spans[-1][0] == value:
            spans[-1] = (value, spans[-1][1], label.time)
        else:
            spans.append((value, label.time, label.time))
    return spans


def expected_events(labels: Sequence[FrameLabel], dwells: Dwells) -> list[tuple[float, EventType]]:
    """(Earliest time, event) pairs a correct pipeline raises for these labels, in time order."""
    events: list[tuple[float, EventType]] = []
    end = labels[-1].time if labels else 0.0
    for state, start, stop in _spans(labels, lambda lab: lab.camera):
        if state is CameraState.OK:
            continue
        dwell = dwells.frozen_after_s if state is CameraState.FROZEN else dwells.blind_after_s
        if stop - start >= dwell:
            events.append((start + dwell, _ONSET[state]))
            if end - stop >= dwells.ok_after_s:
                events.append((stop + dwells.ok_after_s, EventType.CAMERA_OK))
    # Occupancy only over what the camera could see: blind spans restart the edge's countdowns.
    seeing = [lab for lab in labels if lab.camera is CameraState.OK]
    for empty, start, stop in _spans(seeing, lambda lab: lab.faces == 0):
        if empty and stop - start >= dwells.absent_after_s:
            events.append((start + dwells.absent_after_s, EventType.PERSON_ABSENT))
            if end - stop >= dwells.present_after_s:
                events.append((stop + dwells.present_after_s, EventType.PERSON_PRESENT))
    for crowded, start, stop in _spans(seeing, lambda lab: lab.faces > dwells.allowed):
        if crowded and stop - start >= dwells.crowd_after_s:
            events.append((start + dwells.crowd_after_s, EventType.OCCUPANCY_EXCEEDED))
            if end - stop >= dwells.normal_after_s:
                events.append((stop + dwells.normal_after_s, EventType.OCCUPANCY_NORMAL))
    return sorted(events, key=lambda pair: pair[0])


def match_events(
    expected: Sequence[EventType], raised: Sequence[EventType]
) -> tuple[int, list[EventType], list[EventType]]:
    """How many expected events were raised (as a multiset), the missing ones and the unexpected ones."""
    pool = list(raised)
    missing = []
    for event in expected:
        if event in pool:
            pool.remove(event)
        else:
            missing.append(event)
    return len(expected) - len(missing), missing, pool
