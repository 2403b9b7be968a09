"""Room and camera settings: defaults, validation, environment, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from edge.camera import capture, pipeline
from edge.camera.settings import BACKOFF_MAX_S, BACKOFF_MIN_S, DETECT_WIDTH, IDENTITY_INTERVAL_S, RoomSettings
from edge.settings import ENV_PREFIX, EdgeSettings
from qmon.settings import load_settings


def test_defaults_of_a_room() -> None:
    room = RoomSettings(room_id="room-101", source="/var/video/room-101.avi")
    assert room.allowed_people == 1 and room.analysis_fps == 5.0 and room.identity is False
    policy = room.occupancy_policy()
    assert policy.absent_after_s == 60.0 and policy.crowd_after_s == 30.0
    assert room.health.to_policy().frozen_after_s == 10.0
    assert room.motion_policy().recheck_s == 2.0


def test_a_slowly_analysed_room_tolerates_gaps_of_a_few_frames() -> None:
    fast = RoomSettings(room_id="room-101", source=0, analysis_fps=5.0).occupancy_policy()
    slow = RoomSettings(room_id="room-101", source=0, analysis_fps=0.25).occupancy_policy()
    assert fast.gap_s == 2.0 and slow.gap_s == 10.0  # 2.5 frame intervals at 0.25 frames/s


def test_settings_defaults_match_the_modules_they_configure() -> None:
    # edge.camera.settings must not import those modules (OpenCV), so it repeats their defaults.
    assert DETECT_WIDTH == pipeline.DEFAULT_DETECT_WIDTH
    assert IDENTITY_INTERVAL_S == pipeline.DEFAULT_IDENTITY_INTERVAL_S
    assert (
        capture.CapturePolicy().backoff_min_s,
        capture.CapturePolicy().backoff_max_s,
    ) == (BACKOFF_MIN_S, BACKOFF_MAX_S)


@pytest.mark.parametrize(
    ("source", "expected"),
    [("0", 0), (2, 2), ("rtsp://cam/1", "rtsp://cam/1"), ("room.avi", "room.avi")],
)
def test_sources_are_indexes_or_addresses(source: object, expected: object) -> None:
    assert RoomSettings(room_id="r1", source=source).source == expected


def test_invalid_rooms_are_refused() -> None:
    with pytest.raises(ValidationError):
        RoomSettings(room_id="Room 1", source="x.avi")
    with pytest.raises(ValidationError):
        RoomSettings(room_id="r1", source="x.avi", health={"dark_luma": 60, "dark_clear_luma": 40})
    with pytest.raises(ValidationError):
        RoomSettings(room_id="r1", source="x.avi", colour="blue")
    with pytest.raises(ValidationError, match="listed twice"):
        EdgeSettings(site_id="site-a", rooms=[{"room_id": "r1", "source": 0}, {"room_id": "r1", "source": 1}])


def test_rooms_from_the_environment() -> None:
    rooms = [{"room_id": "room-7", "source": "0", "allowed_people": 2}]
    environ = {f"{ENV_PREFIX}SITE_ID": "facility-1", f"{ENV_PREFIX}ROOMS": json.dumps(rooms)}
    settings = load_settings(EdgeSettings, env_prefix=ENV_PREFIX, environ=environ)
    assert settings.rooms[0].source == 0 and settings.rooms[0].allowed_people == 2
    assert settings.camera.threads == 1 and settings.camera.score_threshold == 0.8


def test_loading_edge_settings_does_not_load_opencv_or_onnxruntime() -> None:
    code = "import sys, edge.settings; print('cv2' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
