"""The edge agent answers the hub's snapshot commands from its rooms' latest frames, every face blurred by
the real YuNet; an unknown room or a camera without frames answers with an error."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from edge.agent import EdgeAgent
from edge.camera.capture import open_source
from edge.settings import EdgeSettings
from edge.state import MemoryStateStore
from firmware_sim.camera import RoomScene, write_video
from gateway.protocol import CommandMessage, CommandType, SnapshotError, SnapshotMessage
from qmon.clock import SystemClock
from tests.integration.edge.fakes import FakeCommandLink, FakeUplink
from tests.support.camera import yunet

SITE = "facility-1"


class DeadCamera:
    """A camera that never opens (unplugged, wrong address)."""

    def isOpened(self) -> bool:
        return False

    def grab(self) -> bool:
        return False

    def retrieve(self) -> tuple[bool, None]:
        return False, None

    def get(self, prop_id: int) -> float:
        return 0.0

    def release(self) -> None:
        pass


def no_scanner(callback: object) -> object:
    raise AssertionError("a camera-only agent must not start BLE scanning")


def snapshot_command(room_id: str) -> CommandMessage:
    return CommandMessage(
        command_id=uuid.uuid4(),
        site_id=SITE,
        type=CommandType.SNAPSHOT,
        room_id=room_id,
        time=datetime.now(UTC),
    )


async def until(condition: object, what: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_snapshots_of_a_room_are_blurred_and_bad_requests_are_refused(tmp_path: Path) -> None:
    video = tmp_path / "room.avi"
    write_video(RoomScene(id="room-a", duration_s=4, initial={"person": True, "visitor": True}), video)
    settings = EdgeSettings.model_validate(
        {
            "site_id": SITE,
            "telemetry_interval_s": 1.0,
            "state_path": str(tmp_path / "state.json"),
            "rooms": [
                {"room_id": "room-a", "source": str(video), "analysis_fps": 5},
                {"room_id": "room-b", "source": "rtsp://camera-b.invalid/stream"},
            ],
        }
    )

    def opener(source: str | int) -> object:
        return open_source(source) if str(source) == str(video) else DeadCamera()

    link = FakeCommandLink()
    agent = EdgeAgent(
        settings,
        SystemClock(),
        FakeUplink(SITE),
        scanner_factory=no_scanner,  # type: ignore[arg-type]
        state_store=MemoryStateStore(),
        source_opener=opener,  # type: ignore[arg-type]
        commands=link,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: agent.rooms is not None and agent.rooms.latest_frame("room-a"), "a frame")
        assert link.subscribed
        for room in ("room-a", "room-x", "room-b"):
            link.deliver(snapshot_command(room))
        await until(lambda: len(link.sent) == 3, "three answers")
        assert agent.rooms is not None
        latest = agent.rooms.latest_frame("room-a")
        assert latest is not None and len(yunet().detect(latest.image)) == 2  # the camera shows two faces
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    answers: dict[str, SnapshotMessage] = {m.room_id: m for m in link.sent}
    assert answers["room-x"].error is SnapshotError.UNKNOWN_ROOM and answers["room-x"].jpeg is None
    assert answers["room-b"].error is SnapshotError.CAMERA_OFFLINE
    shot = answers["room-a"]
    assert shot.error is None and shot.faces_blurred == 2 and shot.site_id == SITE
    assert abs(shot.time.timestamp() - datetime.now(UTC).timestamp()) < 30
    image = shot.image
    assert image is not None
    picture = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (480, 640, 3)
    assert yunet(0.5).detect(picture) == []  # every face blurred beyond what the detector finds
    assert agent.stats().snapshots == {"camera_offline": 1, "ready": 1, "unknown_room": 1}
    assert not link.subscribed  # the agent let go of the commands when it stopped
