"""The edge's answers to snapshot commands, with fakes at its ports and manual time."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import numpy as np

from edge.camera.monitor import LatestFrame
from edge.camera.snapshot import BlurredSnapshot
from edge.commands import CommandResponder
from gateway.protocol import CommandMessage, CommandType, SnapshotError, SnapshotMessage
from qmon.clock import ManualClock

SITE = "facility-1"
JPEG = b"\xff\xd8\xff\xe0 a tiny picture \xff\xd9"
MAX_AGE_S = 10.0


class FakeCommandLink:
    """The CommandLink port's sending side: keeps the answers (refuses them while `connected` is False)."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[SnapshotMessage] = []

    def subscribe_commands(self, handler: object) -> object:
        raise AssertionError("the responder is handed commands; it does not subscribe")

    def send_snapshot(self, message: SnapshotMessage) -> bool:
        if self.connected:
            self.sent.append(message)
        return self.connected


class FakeRooms:
    """What the responder uses of RoomMonitor: rooms, their latest frames, and the blurring."""

    def __init__(self, frames: dict[str, LatestFrame | None]) -> None:
        self.frames = frames
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.rendered: list[tuple[str, float, int]] = []

    def has_room(self, room_id: str) -> bool:
        return room_id in self.frames

    def latest_frame(self, room_id: str) -> LatestFrame | None:
        return self.frames[room_id]

    def render_snapshot(self, room_id: str, frame: LatestFrame, max_bytes: int) -> BlurredSnapshot:
        assert threading.current_thread() is not threading.main_thread()  # never on the event loop
        self.gate.wait(5)
        if self.fail:
            raise RuntimeError("encoder broke")
        self.rendered.append((room_id, frame.time, max_bytes))
        return BlurredSnapshot(JPEG, 1)


def command(room_id: str = "room-a") -> CommandMessage:
    return CommandMessage(
        command_id=uuid.uuid4(),
        site_id=SITE,
        type=CommandType.SNAPSHOT,
        room_id=room_id,
        time=datetime.now(UTC),
    )


def frame(time: float) -> LatestFrame:
    return LatestFrame(np.zeros((4, 4, 3), np.uint8), time)


def responder(
    rooms: FakeRooms | None, clock: ManualClock, link: FakeCommandLink | None = None
) -> tuple[CommandResponder, FakeCommandLink]:
    link = link or FakeCommandLink()
    return CommandResponder(SITE, link, clock, rooms, max_age_s=MAX_AGE_S), link  # type: ignore[arg-type]


async def answered(link: FakeCommandLink, count: int) -> list[SnapshotMessage]:
    for _ in range(250):
        if len(link.sent) >= count:
            return link.sent
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(link.sent)} answers, not {count}")


async def test_a_recent_frame_is_sent_blurred_with_its_own_time() -> None:
    clock = ManualClock()
    rooms = FakeRooms({"room-a": frame(clock.now() - 2)})
    respond, link = responder(rooms, clock)
    asked = command()
    respond.handle(asked)
    (answer,) = await answered(link, 1)
    assert (answer.command_id, answer.room_id, answer.error, answer.faces_blurred) == (
        asked.command_id,
        "room-a",
        None,
        1,
    )
    assert answer.image == JPEG and answer.time.timestamp() == clock.now() - 2
    assert rooms.rendered == [("room-a", clock.now() - 2, 1024 * 1024)]
    assert respond.answers == {"ready": 1}


async def test_unknown_rooms_and_stale_or_missing_frames_are_refused_at_once() -> None:
    clock = ManualClock()
    rooms = FakeRooms({"room-a": frame(clock.now() - MAX_AGE_S - 0.1), "room-b": None})
    respond, link = responder(rooms, clock)
    for room in ("room-a", "room-b", "room-x"):
        respond.handle(command(room))
    assert [(a.room_id, a.error) for a in link.sent] == [  # sent before handle() returned
        ("room-a", SnapshotError.CAMERA_OFFLINE),
        ("room-b", SnapshotError.CAMERA_OFFLINE),
        ("room-x", SnapshotError.UNKNOWN_ROOM),
    ]
    assert all(a.jpeg is None and a.faces_blurred is None for a in link.sent)
    assert rooms.rendered == []


async def test_a_site_without_rooms_knows_no_room() -> None:
    respond, link = responder(None, ManualClock())
    respond.handle(command())
    assert [a.error for a in link.sent] == [SnapshotError.UNKNOWN_ROOM]


async def test_too_many_at_once_are_refused_as_busy() -> None:
    clock = ManualClock()
    rooms = FakeRooms({"room-a": frame(clock.now())})
    rooms.gate.clear()  # the pictures take their time
    respond, link = responder(rooms, clock)
    for _ in range(3):
        respond.handle(command())
    assert [a.error for a in link.sent] == [SnapshotError.BUSY]
    rooms.gate.set()
    await respond.close()
    assert [a.error for a in link.sent] == [SnapshotError.BUSY, None, None]
    respond.handle(command())  # room again once they are done
    await respond.close()
    assert link.sent[-1].error is None


async def test_a_failure_answers_failed_and_an_unsent_answer_is_counted() -> None:
    clock = ManualClock()
    rooms = FakeRooms({"room-a": frame(clock.now())})
    rooms.fail = True
    respond, link = responder(rooms, clock)
    respond.handle(command())
    await respond.close()
    assert [a.error for a in link.sent] == [SnapshotError.FAILED]
    link.connected = False
    respond.handle(command("room-x"))
    assert respond.answers == {"failed": 1, "unknown_room": 1, "not_sent": 1}
