"""Room snapshot requests and their images (the images only until their retention passes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.storage.base import Records
from cloud.storage.records import SnapshotAnswer, SnapshotRecord
from cloud.storage.schema import snapshots

_COLUMNS = (
    *(c for c in snapshots.c if c.name != "jpeg"),
    snapshots.c.jpeg.is_not(None).label("has_image"),
)


class SnapshotRecords(Records):
    """Reads and writes of `snapshots`."""

    def create(
        self,
        *,
        id: str,
        site_id: str,
        room_id: str,
        requested_by: str,
        requested_at: datetime,
        conn: Connection | None = None,
    ) -> SnapshotRecord:
        """Insert a pending request."""
        with self._tx(conn, write=True) as c:
            c.execute(
                snapshots.insert().values(
                    id=id,
                    site_id=site_id,
                    room_id=room_id,
                    requested_by=requested_by,
                    requested_at=requested_at,
                    status="pending",
                )
            )
            record = self.get(id, conn=c)
        assert record is not None
        return record

    def get(self, snapshot_id: str, *, conn: Connection | None = None) -> SnapshotRecord | None:
        """One request (without its image)."""
        with self._tx(conn) as c:
            row = c.execute(sa.select(*_COLUMNS).where(snapshots.c.id == snapshot_id)).mappings().first()
        return SnapshotRecord(**row) if row else None

    def image(self, snapshot_id: str, *, conn: Connection | None = None) -> bytes | None:
        """The JPEG of a ready request (None once deleted, or if there never was one)."""
        with self._tx(conn) as c:
            return c.execute(
                sa.select(snapshots.c.jpeg).where(
                    snapshots.c.id == snapshot_id, snapshots.c.status == "ready"
                )
            ).scalar_one_or_none()

    def complete(
        self,
        conn: Connection,
        answers: Sequence[SnapshotAnswer],
        received_at: datetime,
        requested_since: datetime,
    ) -> set[str]:
        """Store answers to pending requests made at or after `requested_since`; the ids that matched.

        An answer must name the request's site and room; one to a request that is not pending any more (timed
        out, answered already) or to no request at all matches nothing and is not stored.
        """
        matched: set[str] = set()
        # One statement per answer: answers are rare (an officer's click each) and each needs its own match.
        for a in answers:
            result = conn.execute(
                snapshots.update()
                .where(
                    snapshots.c.id == a.id,
                    snapshots.c.site_id == a.site_id,
                    snapshots.c.room_id == a.room_id,
                    snapshots.c.status == "pending",
                    snapshots.c.requested_at >= requested_since,
                )
                .values(
                    status=a.status,
                    received_at=received_at,
                    taken_at=a.taken_at,
                    faces_blurred=a.faces_blurred,
                    error=a.error,
                    jpeg=a.jpeg,
                )
            )
            if result.rowcount:
                matched.add(a.id)
        return matched

    def fail(self, snapshot_id: str, error: str, *, conn: Connection | None = None) -> None:
        """Mark a pending request failed (e.g. its command could not be sent)."""
        with self._tx(conn, write=True) as c:
            c.execute(
                snapshots.update()
                .where(snapshots.c.id == snapshot_id, snapshots.c.status == "pending")
                .values(status="failed", error=error)
            )

    def sweep(
        self,
        *,
        requested_before: datetime,
        received_before: datetime,
        conn: Connection | None = None,
    ) -> tuple[int, int]:
        """Fail requests still pending since before `requested_before` (error `timeout`); delete the images
        received before `received_before` (status `expired`). Returns (failed, expired)."""
        with self._tx(conn, write=True) as c:
            failed = c.execute(
                snapshots.update()
                .where(snapshots.c.status == "pending", snapshots.c.requested_at < requested_before)
                .values(status="failed", error="timeout")
            ).rowcount
            expired = c.execute(
                snapshots.update()
                .where(snapshots.c.status == "ready", snapshots.c.received_at < received_before)
                .values(status="expired", jpeg=None)
            ).rowcount
        return int(failed), int(expired)
