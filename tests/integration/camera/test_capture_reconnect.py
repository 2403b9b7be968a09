"""A real video file that disappears and comes back: the pipeline stays alive and reports it offline."""

from __future__ import annotations

import os
from pathlib import Path

from edge.camera.capture import Capture, CapturePolicy
from edge.camera.pipeline import RoomPipeline
from firmware_sim.camera import RoomScene, write_video
from gateway.protocol import CameraState
from tests.support.camera import yunet


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_file_removed_and_restored(tmp_path: Path) -> None:
    video = tmp_path / "room.avi"
    write_video(RoomScene(id="room-r", duration_s=4, fps=5), video)
    clock = Clock()
    capture = Capture(str(video), now=clock, policy=CapturePolicy(backoff_min_s=1.0, backoff_max_s=4.0))
    pipeline = RoomPipeline("room-r", yunet(), started_at=clock.t)

    def step() -> CameraState:
        frame = capture.read()
        result = pipeline.process(frame, clock.t) if frame is not None else pipeline.offline(clock.t)
        clock.t += 0.2
        return result.camera

    assert [step() for _ in range(10)] == [CameraState.OK] * 10
    os.rename(video, tmp_path / "aside.avi")  # the camera goes away (an open file still reads to its end)
    states = [step() for _ in range(40)]
    assert CameraState.OFFLINE in states
    offline_from = states.index(CameraState.OFFLINE)
    assert all(s is CameraState.OFFLINE for s in states[offline_from:])
    assert capture.failures >= 2  # it kept retrying, with backoff
    os.rename(tmp_path / "aside.avi", video)  # back
    back = [step() for _ in range(30)]  # at most one backoff period (4 s) later
    assert back[-1] is CameraState.OK and capture.online and capture.opens >= 2
    assert pipeline.detections > 2  # detection resumed on the new stream
