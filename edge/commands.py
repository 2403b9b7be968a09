"""Answering the hub's commands. Today one: a snapshot of a room, every face blurred, sent straight back.

Video never leaves the box; a single picture does, only when an officer asks for it through the hub. The
answer is the room camera's latest frame (kept in memory only, edge/camera/monitor.py), blurred by
`take_snapshot` in a worker thread, and published directly (not through the outbox: a snapshot is
ephemeral, and the hub gives up on it after its timeout anyway). An unknown room, a camera without a
recent frame, too many snapshots at once or a failure all answer with an error instead of a picture.

Imports no camera code: a bracelet-only site answers every snapshot with `unknown_room`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import TYPE_CHECKING

from gateway.protocol import (
    MAX_SNAPSHOT_BYTES,
    CommandMessage,
    CommandType,
    SnapshotError,
    SnapshotMessage,
    encode_jpeg,
    utc_from_timestamp,
)
from gateway.uplink import CommandLink
from qmon.clock import Clock

if TYPE_CHECKING:
    from edge.camera.monitor import LatestFrame, RoomMonitor

log = logging.getLogger(__name__)

MAX_IN_PROGRESS = 2  # pictures being made at once; more requests are refused (`busy`) rather than queued


class CommandResponder:
    """Turns the hub's commands into answers on the CommandLink; `handle` runs on the event loop."""

    def __init__(
        self,
        site_id: str,
        link: CommandLink,
        clock: Clock,
        rooms: RoomMonitor | None,
        *,
        max_age_s: float,
        max_in_progress: int = MAX_IN_PROGRESS,
    ) -> None:
        self.site_id = site_id
        self._link = link
        self._clock = clock
        self._rooms = rooms
        self._max_age_s = max_age_s
        self._max_in_progress = max_in_progress
        self._tasks: set[asyncio.Task[None]] = set()
        self.answers: Counter[str] = Counter()  # "ready" or the error, per answer sent or attempted

    def handle(self, command: CommandMessage) -> None:
        """Answer `command`: a refusal at once, or a picture of the room's latest frame, made in a worker
        thread and sent when ready."""
        if command.type is not CommandType.SNAPSHOT:  # pragma: no cover - the only type so far
            log.warning("command %s of unknown type %s ignored", command.command_id, command.type)
            return
        log.info("snapshot of room %s requested (command %s)", command.room_id, command.command_id)
        rooms, room_id = self._rooms, command.room_id
        if rooms is None or not rooms.has_room(room_id):
            self._send(self._refusal(command, SnapshotError.UNKNOWN_ROOM))
            return
        frame = rooms.latest_frame(room_id)
        if frame is None or self._clock.now() - frame.time > self._max_age_s:
            self._send(self._refusal(command, SnapshotError.CAMERA_OFFLINE))
            return
        if len(self._tasks) >= self._max_in_progress:
            self._send(self._refusal(command, SnapshotError.BUSY))
            return
        task = asyncio.create_task(self._answer(command, rooms, frame), name=f"snapshot-{command.command_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Wait for the snapshots in progress (each takes a detector run and a JPEG encoding)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, command: CommandMessage, rooms: RoomMonitor, frame: LatestFrame) -> None:
        try:
            # Detection on a full frame and JPEG encoding take milliseconds to tens of them: not on the loop.
            shot = await asyncio.to_thread(rooms.render_snapshot, command.room_id, frame, MAX_SNAPSHOT_BYTES)
            message = SnapshotMessage(
                command_id=command.command_id,
                site_id=self.site_id,
                room_id=command.room_id,
                time=utc_from_timestamp(frame.time),
                faces_blurred=shot.faces,
                jpeg=encode_jpeg(shot.jpeg),
            )
        except Exception:
            log.exception("snapshot of room %s failed", command.room_id)
            message = self._refusal(command, SnapshotError.FAILED)
        self._send(message)

    def _refusal(self, command: CommandMessage, error: SnapshotError) -> SnapshotMessage:
        return SnapshotMessage(
            command_id=command.command_id,
            site_id=self.site_id,
            room_id=command.room_id,
            time=utc_from_timestamp(self._clock.now()),
            error=error,
        )

    def _send(self, message: SnapshotMessage) -> None:
        outcome = "ready" if message.error is None else message.error.value
        self.answers[outcome] += 1
        try:
            sent = self._link.send_snapshot(message)
        except Exception:
            log.exception("could not send snapshot %s", message.command_id)
            sent = False
        if sent:
            log.info("snapshot %s of room %s sent: %s", message.command_id, message.room_id, outcome)
        else:
            self.answers["not_sent"] += 1
