"""End to end on the edge: a simulated camera video -> room pipeline -> room monitor -> uplink.

Every room event type reaches the uplink as a valid EventMessage about the room, in the order the
scene's ground truth says, and the room's reading rides in a valid telemetry batch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.camera.capture import Capture, read_file_frames
from edge.camera.health import HealthPolicy
from edge.camera.monitor import RoomMonitor, RoomUnit
from edge.camera.occupancy import OccupancyPolicy
from edge.camera.pipeline import RoomPipeline
from firmware_sim.camera import FrameLabel
from firmware_sim.camera.truth import Dwells, expected_events
from gateway.protocol import CameraState, EventType, TelemetryMessage, utc_from_timestamp
from qmon.clock import ManualClock
from tests.integration.edge.fakes import FakeUplink
from tests.support.camera import yunet

T0 = 1_800_000_000.0
OCCUPANCY = OccupancyPolicy(absent_after_s=10, present_after_s=2, crowd_after_s=5, normal_after_s=5)
HEALTH = HealthPolicy(blind_after_s=2, frozen_after_s=4, ok_after_s=2)
DWELLS = Dwells(
    absent_after_s=10,
    present_after_s=2,
    crowd_after_s=5,
    normal_after_s=5,
    blind_after_s=2,
    frozen_after_s=4,
    ok_after_s=2,
)


def replay(video: Path, uplink: FakeUplink) -> RoomMonitor:
    """Every frame of the video through a room pipeline, at the video's own times, into a monitor."""
    pipeline = RoomPipeline("room-e2e", yunet(), started_at=T0, occupancy=OCCUPANCY, health=HEALTH)
    capture = Capture(str(video), now=lambda: T0)  # not read here: the unit needs one for its stats
    monitor = RoomMonitor([RoomUnit("room-e2e", 1, capture, pipeline, 0.2)], uplink, ManualClock(T0))
    for t, frame in read_file_frames(video):
        monitor.deliver(pipeline.process(frame, T0 + t))
    return monitor


@pytest.fixture(scope="module")
def replayed(events_video: tuple[Path, list[FrameLabel]]) -> tuple[FakeUplink, RoomMonitor, list[FrameLabel]]:
    """The events video replayed once for this module's tests."""
    video, labels = events_video
    uplink = FakeUplink("facility-1")
    return uplink, replay(video, uplink), labels


def test_every_room_event_reaches_the_uplink_in_order(
    replayed: tuple[FakeUplink, RoomMonitor, list[FrameLabel]],
) -> None:
    uplink, monitor, labels = replayed
    expected = [event for _, event in expected_events(labels, DWELLS)]
    assert expected == [
        EventType.PERSON_ABSENT,
        EventType.PERSON_PRESENT,
        EventType.OCCUPANCY_EXCEEDED,
        EventType.OCCUPANCY_NORMAL,
        EventType.CAMERA_COVERED,
        EventType.CAMERA_OK,
        EventType.CAMERA_DARK,
        EventType.CAMERA_OK,
        EventType.CAMERA_FROZEN,
        EventType.CAMERA_OK,
    ]
    assert uplink.room_types("room-e2e") == expected
    events = uplink.events
    assert all(e.room_id == "room-e2e" and e.device_id is None for e in events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    times = [e.time.timestamp() - T0 for e in events]
    truth = [t for t, _ in expected_events(labels, DWELLS)]
    for got, due in zip(times, truth, strict=True):
        assert due - 0.5 <= got <= due + 3.5  # decided within a few analysed frames of the dwell's end
    assert monitor.stats().decisions["camera_ok"] == 3


def test_evidence_and_telemetry_are_valid_and_say_what_happened(
    replayed: tuple[FakeUplink, RoomMonitor, list[FrameLabel]],
) -> None:
    uplink, monitor, _ = replayed
    by_type = {e.type: e.data for e in uplink.events}
    assert by_type[EventType.PERSON_ABSENT]["unseen_s"] >= 10
    crowd = by_type[EventType.OCCUPANCY_EXCEEDED]
    assert crowd["faces"] == 2 and crowd["allowed"] == 1
    assert by_type[EventType.CAMERA_COVERED]["contrast"] < 10
    assert by_type[EventType.CAMERA_DARK]["brightness"] < 30
    assert by_type[EventType.CAMERA_FROZEN]["frozen_s"] >= 4
    now = T0 + 100
    batch = TelemetryMessage(site_id="facility-1", time=utc_from_timestamp(now), rooms=monitor.readings(now))
    [reading] = TelemetryMessage.model_validate_json(batch.model_dump_json()).rooms
    assert reading.room_id == "room-e2e" and reading.faces == 1 and reading.allowed == 1
    assert reading.camera is CameraState.OK and reading.person_present is True
    assert reading.detections > 0 and reading.brightness is not None and reading.brightness > 100
