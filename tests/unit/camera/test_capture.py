"""Capture: reconnection with backoff, file pacing and looping, against sources at the VideoSource port."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.camera.capture import Capture, CapturePolicy
from edge.camera.sources import describe_source, is_live, parse_source


class FakeSource:
    """A cv2.VideoCapture stand-in: `frames` frames numbered in their pixel values, then end or a drop."""

    def __init__(self, frames: int, fps: float = 0.0, opened: bool = True) -> None:
        self.frames, self.fps, self.opened = frames, fps, opened
        self.index = -1
        self.grabs = 0

    def isOpened(self) -> bool:
        return self.opened

    def grab(self) -> bool:
        if self.index + 1 >= self.frames:
            return False
        self.index += 1
        self.grabs += 1
        return True

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        return True, np.full((4, 4, 3), self.index % 256, np.uint8)

    def get(self, prop_id: int) -> float:
        return self.fps if prop_id == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.opened = False


class Opener:
    """Hands out the scripted sources in turn (None: opening fails)."""

    def __init__(self, *sources: FakeSource | None) -> None:
        self.sources = list(sources)
        self.calls = 0

    def __call__(self, source: str | int) -> FakeSource:
        self.calls += 1
        item = self.sources.pop(0) if self.sources else None
        return item if item is not None else FakeSource(0, opened=False)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_sources_are_parsed_and_described_without_passwords() -> None:
    assert parse_source("0") == 0 and parse_source(" 2 ") == 2 and parse_source("room.avi") == "room.avi"
    assert is_live(0) and is_live("rtsp://cam/1") and not is_live("/var/video/room.avi")
    assert describe_source("rtsp://admin:secret@10.0.0.5:554/s1") == "rtsp://10.0.0.5:554/s1"
    assert describe_source(1) == "/dev/video1"


def test_a_live_stream_that_drops_comes_back_after_backoff() -> None:
    clock = Clock()
    opener = Opener(FakeSource(3), None, FakeSource(100))
    capture = Capture("rtsp://cam/1", now=clock, opener=opener, policy=CapturePolicy(1.0, 8.0))
    assert [capture.read() is not None for _ in range(3)] == [True, True, True]
    assert capture.online
    assert capture.read() is None  # the stream dropped
    assert not capture.online and capture.failures == 1
    clock.t += 0.5
    assert capture.read() is None and opener.calls == 1  # still backing off: no reopen yet
    clock.t += 0.6
    assert capture.read() is None and opener.calls == 2  # reopen failed: next wait is 2 s
    clock.t += 1.9
    assert capture.read() is None and opener.calls == 2
    clock.t += 0.2
    assert capture.read() is not None and capture.online and opener.calls == 3


def test_backoff_doubles_up_to_the_maximum() -> None:
    clock = Clock()
    opener = Opener()  # never opens
    capture = Capture(0, now=clock, opener=opener, policy=CapturePolicy(1.0, 4.0))
    attempts = []
    for _ in range(100):
        before = opener.calls
        capture.read()
        if opener.calls > before:
            attempts.append(clock.t - 100.0)
        clock.t += 0.25
    assert attempts[:6] == [0.0, 1.0, 3.0, 7.0, 11.0, 15.0]


def test_a_file_plays_at_its_own_rate_against_the_clock() -> None:
    clock = Clock()
    source = FakeSource(1000, fps=10.0)
    capture = Capture("room.avi", now=clock, opener=Opener(source))
    first = capture.read()
    clock.t += 0.5
    later = capture.read()
    assert first is not None and later is not None
    assert int(first[0, 0, 0]) == 0 and int(later[0, 0, 0]) == 5  # half a second at 10 fps


def test_a_file_loops_at_its_end_and_stops_without_loop() -> None:
    clock = Clock()
    looping = Capture("a.avi", now=clock, opener=Opener(FakeSource(3, fps=1.0), FakeSource(3, fps=1.0)))
    values = []
    for _ in range(5):
        frame = looping.read()
        values.append(None if frame is None else int(frame[0, 0, 0]))
        clock.t += 1.0
    assert values == [0, 1, 2, 0, 1] and looping.opens == 2
    once = Capture(
        "b.avi", now=clock, opener=Opener(FakeSource(2, fps=1.0)), policy=CapturePolicy(loop=False)
    )
    got = []
    for _ in range(3):
        got.append(once.read() is not None)
        clock.t += 1.0
    assert got == [True, True, False]


def test_an_opener_that_raises_is_an_offline_camera() -> None:
    def broken(source: str | int) -> FakeSource:
        raise RuntimeError("backend exploded")

    capture = Capture("rtsp://cam/2", now=Clock(), opener=broken)
    assert capture.read() is None and capture.failures == 1


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError):
        CapturePolicy(5.0, 1.0)
