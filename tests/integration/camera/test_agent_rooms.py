"""The edge agent with a camera room and no bracelets: worker threads, uplink, telemetry, state, no BLE."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.agent import EdgeAgent
from edge.decision import RoomDecision
from edge.settings import EdgeSettings
from edge.state import MemoryStateStore
from firmware_sim.camera import RoomScene, write_video
from gateway.protocol import CameraState, EventType
from qmon.clock import SystemClock
from tests.integration.edge.fakes import FakeUplink


def no_scanner(callback: object) -> object:
    raise AssertionError("a camera-only agent must not start BLE scanning")


async def test_camera_only_agent_raises_room_events_and_sends_room_telemetry(tmp_path: Path) -> None:
    video = tmp_path / "room.avi"
    # The lens is covered from 2 s to 5 s of the video; the file loops.
    write_video(
        RoomScene(
            id="room-a", duration_s=8, timeline=[{"t": 2, "lens": "covered"}, {"t": 5, "lens": "clear"}]
        ),
        video,
    )
    settings = EdgeSettings.model_validate(
        {
            "site_id": "facility-1",
            "telemetry_interval_s": 1.0,
            "state_path": str(tmp_path / "state.json"),
            "rooms": [
                {
                    "room_id": "room-a",
                    "source": str(video),
                    "analysis_fps": 5,
                    "health": {"blind_after_s": 1.0, "ok_after_s": 1.0},
                }
            ],
        }
    )
    uplink, store = FakeUplink("facility-1"), MemoryStateStore()
    agent = EdgeAgent(settings, SystemClock(), uplink, scanner_factory=no_scanner, state_store=store)  # type: ignore[arg-type]
    seen: list[RoomDecision] = []
    agent.subscribe_rooms(seen.append)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    for _ in range(200):  # up to 20 s of wall time; the events come at about 3 s and 6 s
        await asyncio.sleep(0.1)
        if EventType.CAMERA_OK in uplink.room_types("room-a"):
            break
    stop.set()
    await asyncio.wait_for(task, 30)

    assert uplink.room_types("room-a")[:2] == [EventType.CAMERA_COVERED, EventType.CAMERA_OK]
    assert [d.type for d in seen][:2] == [EventType.CAMERA_COVERED, EventType.CAMERA_OK]
    rooms = [r for batch in uplink.telemetry for r in batch.rooms]
    assert rooms and all(r.room_id == "room-a" and r.allowed == 1 for r in rooms)
    assert any(r.camera is CameraState.COVERED for r in rooms)  # ~3 s covered, a batch every second
    assert all(batch.readings == [] for batch in uplink.telemetry)
    stats = agent.stats()
    assert not stats.scanning and stats.frames_analysed > 10 and stats.errors == 0
    assert stats.room_decisions["camera_covered"] == 1 and stats.camera_cpu_s > 0
    assert all(not worker._thread.is_alive() for worker in agent.rooms.workers)  # type: ignore[union-attr]
    assert store.load().rooms["room-a"].camera is CameraState.OK
