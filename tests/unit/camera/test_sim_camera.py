"""The simulated camera: labelled frames from real photos, scenes as data, video and in-process source."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from firmware_sim.camera import (
    RoomScene,
    SimulatedCamera,
    SimulatedCameraSource,
    load_scenes,
    read_labels,
    write_video,
)
from firmware_sim.camera.scene import SceneFile
from gateway.protocol import CameraState
from tests.support.camera import yunet

SCENE = RoomScene.model_validate(
    {
        "id": "room-t",
        "duration_s": 20,
        "fps": 5,
        "timeline": [
            {"t": 2, "visitor": "in"},
            {"t": 4, "visitor": "out"},
            {"t": 6, "person": "out"},
            {"t": 8, "person": "in"},
            {"t": 10, "lens": "covered"},
            {"t": 12, "lens": "clear"},
            {"t": 13, "lights": False},
            {"t": 15, "lights": "on"},
            {"t": 16, "feed": "frozen"},
            {"t": 18, "feed": "live"},
        ],
    }
)


def test_labels_follow_the_timeline() -> None:
    frames = list(SimulatedCamera(SCENE).frames())
    assert len(frames) == 100
    by_time = {round(label.time, 1): label for _, label in frames}
    assert by_time[1.0].faces == 1 and by_time[1.0].camera is CameraState.OK
    assert by_time[3.0].faces == 2
    assert by_time[7.0].faces == 0
    assert by_time[11.0].faces == 0 and by_time[11.0].camera is CameraState.COVERED
    assert by_time[14.0].faces == 0 and by_time[14.0].camera is CameraState.DARK
    assert by_time[17.0].faces == 1 and by_time[17.0].camera is CameraState.FROZEN
    assert by_time[19.0].camera is CameraState.OK


def test_the_detector_agrees_with_every_label() -> None:
    for image, label in SimulatedCamera(SCENE).frames():
        if label.index % 3 == 0:
            assert len(yunet().detect(image)) == label.faces, label


def test_frames_differ_by_sensor_noise_unless_frozen() -> None:
    frames = [image for image, _ in SimulatedCamera(SCENE).frames()]
    live_a, live_b = frames[5], frames[6]
    assert not np.array_equal(live_a, live_b)
    assert np.abs(live_a.astype(int) - live_b.astype(int)).mean() < 6  # mild: noise and sway only
    frozen = frames[81:90]  # 16.2 s - 17.8 s
    assert all(np.array_equal(frozen[0], other) for other in frozen[1:])
    assert np.array_equal(frozen[0], frames[79])  # the last live frame, repeated


def test_frames_are_deterministic_per_scene() -> None:
    a, _ = SimulatedCamera(SCENE).frame(7)
    b, _ = SimulatedCamera(SCENE).frame(7)
    assert np.array_equal(a, b)


def test_written_video_opens_with_opencv_and_keeps_its_labels(tmp_path: Path) -> None:
    video = tmp_path / "room.avi"
    labels = write_video(SCENE, video)
    assert read_labels(video) == labels
    capture = cv2.VideoCapture(str(video))
    assert capture.isOpened() and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(5.0)
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == len(labels) == 100


def test_in_process_source_behaves_like_a_capture() -> None:
    source = SimulatedCameraSource(SCENE.model_copy(update={"duration_s": 2}))
    assert source.isOpened() and source.get(cv2.CAP_PROP_FPS) == 5.0
    frames = 0
    while True:
        ok, frame = source.read()
        if not ok:
            break
        assert frame is not None and frame.shape == (480, 640, 3)
        frames += 1
    assert frames == 10 and len(source.labels) == 10
    source.release()
    assert not source.isOpened()


def test_bundled_facility_has_two_rooms_and_yaml_booleans_parse() -> None:
    rooms = load_scenes()
    assert [room.id for room in rooms] == ["room-101", "room-102"]
    assert rooms[1].state_at(100).camera is CameraState.DARK


def test_timeline_entries_change_one_thing_in_order() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        SceneFile.model_validate({"rooms": [{"id": "r", "duration_s": 1, "timeline": [{"t": 0}]}]})
    with pytest.raises(ValidationError, match="time order"):
        RoomScene.model_validate(
            {"id": "r", "duration_s": 5, "timeline": [{"t": 3, "person": "out"}, {"t": 1, "person": "in"}]}
        )
