"""Room snapshots on explicit request: an officer asks, the hub commands the facility's edge box, the edge
answers with one JPEG in which every face is blurred, the officer fetches it.

Video never leaves the facility; this is the only way a picture does. Personal data is kept to a minimum:
the command names the room, never the officer (who asked stays on the hub, for the audit); a request the
edge has not answered within `snapshot_timeout_s` fails; an image is deleted `snapshot_retention_s` after it
arrived (the request stays, `expired`). Reads apply both deadlines by the clock at once (`current_status`);
the sweeper makes them permanent and deletes the bytes. Scope as for GET /api/v1/rooms: the room must hold
an active order of one of the officer's wards, otherwise the room and its snapshots do not exist (404).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.access import Actor
from cloud.commands import CommandSender
from cloud.errors import ConflictError, GoneError, NotFoundError, UnavailableError
from cloud.storage.records import SnapshotRecord
from cloud.storage.repository import Repository
from gateway.protocol import CommandMessage, CommandType, utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """How long an edge has to answer, and how long an image is kept."""

    timeout_s: float = 30.0
    retention_s: float = 15 * 60.0

    @property
    def sweep_interval_s(self) -> float:
        """How often the sweeper runs: a fraction of the shorter deadline (the reads apply them anyway)."""
        return max(1.0, min(self.timeout_s, self.retention_s) / 4)


def current_status(record: SnapshotRecord, now: datetime, policy: SnapshotPolicy) -> tuple[str, str | None]:
    """(status, error) of a request at `now`, deadlines applied even if the sweeper has not run yet."""
    if record.status == "pending" and now - record.requested_at > timedelta(seconds=policy.timeout_s):
        return "failed", "timeout"
    if (
        record.status == "ready"
        and record.received_at is not None
        and now - record.received_at > timedelta(seconds=policy.retention_s)
    ):
        return "expired", None
    return record.status, record.error


@dataclass(frozen=True, slots=True)
class SnapshotView:
    """A request as an officer sees it now."""

    record: SnapshotRecord
    status: str
    error: str | None
    expires_at: datetime | None  # when the image will be deleted (ready ones only)


class SnapshotService:
    """Requests, status, images and their expiry."""

    def __init__(
        self, repository: Repository, clock: Clock, sender: CommandSender | None, policy: SnapshotPolicy
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._sender = sender
        self.policy = policy

    def request(self, actor: Actor, site_id: str, room_id: str) -> SnapshotView:
        """Ask the room's edge box for a blurred snapshot; the request is pending until it answers."""
        self._check_room(actor, site_id, room_id, "room")
        if self._sender is None:
            raise UnavailableError("this hub has no broker connection to send commands")
        now = utc_from_timestamp(self._clock.now())
        command = CommandMessage(
            command_id=uuid.uuid4(), site_id=site_id, type=CommandType.SNAPSHOT, room_id=room_id, time=now
        )
        snapshot_id = str(command.command_id)
        record = self._repo.snapshots.create(
            id=snapshot_id, site_id=site_id, room_id=room_id, requested_by=actor.username, requested_at=now
        )
        # The audit trail of who looked into which room: the hub's log and the request row.
        log.info("snapshot %s of %s/%s requested by %s", snapshot_id, site_id, room_id, actor.username)
        if not self._sender.send(command):
            self._repo.snapshots.fail(snapshot_id, "not_sent")
            record = self._stored(snapshot_id)
        return self._view(record)

    def get(self, actor: Actor, snapshot_id: str) -> SnapshotView:
        """One request of a room the actor may see (404 otherwise)."""
        record = self._repo.snapshots.get(snapshot_id)
        if record is None:
            raise NotFoundError(f"snapshot {snapshot_id} not found")
        self._check_room(actor, record.site_id, record.room_id, f"snapshot {snapshot_id}")
        return self._view(record)

    def image(self, actor: Actor, snapshot_id: str) -> bytes:
        """The JPEG of a ready request (409 while pending or failed, 410 once expired)."""
        view = self.get(actor, snapshot_id)
        if view.status == "ready":
            jpeg = self._repo.snapshots.image(snapshot_id)
            if jpeg is not None:
                return jpeg
            view = self.get(actor, snapshot_id)  # expired in between
        if view.status == "expired":
            raise GoneError(f"snapshot {snapshot_id}: the image was deleted after its retention")
        detail = f" ({view.error})" if view.error else ""
        raise ConflictError(f"snapshot {snapshot_id} is {view.status}{detail}: no image")

    def sweep(self) -> tuple[int, int]:
        """Fail the requests past their timeout and delete the images past their retention; the counts."""
        now = utc_from_timestamp(self._clock.now())
        failed, expired = self._repo.snapshots.sweep(
            requested_before=now - timedelta(seconds=self.policy.timeout_s),
            received_before=now - timedelta(seconds=self.policy.retention_s),
        )
        if failed or expired:
            log.info("snapshots: %d requests timed out, %d images deleted", failed, expired)
        return failed, expired

    async def run_sweeper(self) -> None:
        """Sweep every `policy.sweep_interval_s` of the clock's time until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # the database may be away for a while: try again next time
                log.exception("snapshots: sweep failed")
            await self._clock.sleep(self.policy.sweep_interval_s)

    # ---- internals --------------------------------------------------------------------------------------

    def _check_room(self, actor: Actor, site_id: str, room_id: str, what: str) -> None:
        wards = self._repo.orders.room_wards(site_id, room_id)
        if not wards or (actor.ward_filter is not None and not wards & actor.ward_filter):
            raise NotFoundError(f"{what} not found")

    def _stored(self, snapshot_id: str) -> SnapshotRecord:
        record = self._repo.snapshots.get(snapshot_id)
        assert record is not None
        return record

    def _view(self, record: SnapshotRecord) -> SnapshotView:
        status, error = current_status(record, utc_from_timestamp(self._clock.now()), self.policy)
        expires_at = None
        if status == "ready" and record.received_at is not None:
            expires_at = record.received_at + timedelta(seconds=self.policy.retention_s)
        return SnapshotView(record, status, error, expires_at)
