"""The room pipeline on simulated frames with the real detector: gating, blindness, offline, evidence."""

from __future__ import annotations

from edge.camera.health import HealthPolicy
from edge.camera.occupancy import OccupancyPolicy
from edge.camera.pipeline import RoomPipeline
from firmware_sim.camera import RoomScene, SimulatedCamera
from gateway.protocol import CameraState, EventType
from tests.support.camera import yunet


def scene(**initial: bool) -> SimulatedCamera:
    return SimulatedCamera(RoomScene(id="room-p", duration_s=60, initial=initial))


def test_still_scene_runs_the_detector_only_on_rechecks() -> None:
    camera = scene()
    pipeline = RoomPipeline("room-p", yunet(), started_at=0.0)
    for index in range(50):  # 10 s at 5 fps; the resident sways a few pixels
        image, label = camera.frame(index)
        result = pipeline.process(image, label.time)
        assert result.raw_faces == 1
    assert 5 <= pipeline.detections < 50


def test_covered_frames_skip_the_detector_and_blind_the_occupancy() -> None:
    camera = SimulatedCamera(RoomScene(id="room-p", duration_s=30, timeline=[{"t": 2, "lens": "covered"}]))
    pipeline = RoomPipeline(
        "room-p",
        yunet(),
        started_at=0.0,
        occupancy=OccupancyPolicy(absent_after_s=5.0),
        health=HealthPolicy(blind_after_s=1.0),
    )
    results = [
        pipeline.process(*reversed(pair))
        for pair in ((label.time, image) for image, label in camera.frames())
    ]
    runs_before = sum(r.detected for r in results[:10])
    assert runs_before >= 1 and not any(r.detected for r in results[15:])
    types = [d.type for r in results for d in r.decisions]
    assert types == [EventType.CAMERA_COVERED]  # never PERSON_ABSENT: a covered lens proves nothing
    assert results[-1].camera is CameraState.COVERED and results[-1].faces == 0


def test_offline_reports_the_camera_offline_and_keeps_the_reported_state() -> None:
    pipeline = RoomPipeline("room-p", yunet(), started_at=0.0)
    image, _ = scene().frame(0)
    pipeline.process(image, 0.0)
    gone = pipeline.offline(1.0)
    assert gone.camera is CameraState.OFFLINE and gone.raw_faces == 0 and not gone.decisions
    back = pipeline.process(image, 2.0)
    assert back.camera is CameraState.OK and back.detected


def test_wide_frames_are_shrunk_for_the_detector_and_faces_scaled_back() -> None:
    import cv2

    image, _ = scene().frame(0)
    wide = cv2.resize(image, (1280, 960))
    pipeline = RoomPipeline("room-p", yunet(), started_at=0.0, detect_width=640)
    pipeline.process(wide, 0.0)
    small_face = yunet().detect(image)[0]
    [big_face] = pipeline.faces
    assert abs(big_face.x - 2 * small_face.x) < 6 and abs(big_face.w - 2 * small_face.w) < 6


def test_presence_evidence_carries_the_detection_score() -> None:
    camera = SimulatedCamera(
        RoomScene(id="room-p", duration_s=30, initial={"person": False}, timeline=[{"t": 8, "person": "in"}])
    )
    pipeline = RoomPipeline(
        "room-p", yunet(), started_at=0.0, occupancy=OccupancyPolicy(absent_after_s=5.0, present_after_s=2.0)
    )
    decisions = [d for image, label in camera.frames() for d in pipeline.process(image, label.time).decisions]
    assert [d.type for d in decisions] == [EventType.PERSON_ABSENT, EventType.PERSON_PRESENT]
    assert decisions[1].data["score"] > 0.8 and decisions[1].room_id == "room-p"
