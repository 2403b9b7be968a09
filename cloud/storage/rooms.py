"""Facility rooms' last readings (the room counterpart of a device's last-seen columns)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.storage.base import Records, insert_for
from cloud.storage.records import RoomStatus
from cloud.storage.schema import room_status

_UPDATED = ("time", "faces", "allowed", "person_present", "camera", "brightness", "updated_at")


class RoomRecords(Records):
    """Reads and writes of `room_status`."""

    def save(self, conn: Connection, rows: Sequence[RoomStatus]) -> None:
        """Insert or replace rooms' last readings (a newer stored reading is kept)."""
        if not rows:
            return
        insert = insert_for(conn, room_status)
        excluded = insert.excluded
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["site_id", "room_id"],
                set_={name: excluded[name] for name in _UPDATED},
                where=room_status.c.time <= excluded.time,
            ),
            [
                {
                    "site_id": r.site_id,
                    "room_id": r.room_id,
                    "time": r.time,
                    "faces": r.faces,
                    "allowed": r.allowed,
                    "person_present": r.person_present,
                    "camera": r.camera,
                    "brightness": r.brightness,
                    "updated_at": r.updated_at,
                }
                for r in rows
            ],
        )

    def list(
        self, keys: Collection[tuple[str, str]] | None = None, *, conn: Connection | None = None
    ) -> builtins.list[RoomStatus]:
        """Last readings of the given (site_id, room_id) rooms (None: every room), by site and room."""
        query = sa.select(room_status).order_by(room_status.c.site_id, room_status.c.room_id)
        if keys is not None:
            if not keys:
                return []
            query = query.where(sa.tuple_(room_status.c.site_id, room_status.c.room_id).in_(list(keys)))
        with self._tx(conn) as c:
            return [RoomStatus(**row) for row in c.execute(query).mappings()]
