"""Edge events (stored once per event id) and dead letters."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.rules import RuleEvent
from cloud.storage.base import Records
from cloud.storage.bulk import to_json
from cloud.storage.records import DeadLetter, StoredEvent
from cloud.storage.schema import dead_letters, events

_EVENT_COLUMNS = [c for c in events.c if c.name != "id"]
_INSERT_COLUMNS = tuple(c.name for c in _EVENT_COLUMNS)


class EventRecords(Records):
    """Reads and writes of `events`."""

    def insert_new(self, conn: Connection, new: Sequence[RuleEvent], received_at: datetime) -> set[str]:
        """Insert events whose event_id is not stored yet; return the ids inserted (insert-if-absent)."""
        ts = self.bulk.ts
        received = ts(received_at)
        values = [
            (
                e.event_id,
                e.site_id,
                e.device_id,
                e.room_id,
                e.seq,
                e.type.value,
                ts(e.time),
                received,
                to_json(e.data),
                None,
            )
            for e in new
        ]
        returned = self.bulk.insert(
            conn,
            events,
            _INSERT_COLUMNS,
            values,
            suffix="ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        )
        return {row[0] for row in returned}

    def set_flags(self, conn: Connection, flags: Sequence[tuple[str, str]]) -> None:
        """Mark events (event_id, flag) that opened no alert and why."""
        if flags:
            statement = (
                events.update()
                .where(events.c.event_id == sa.bindparam("b_id"))
                .values(flag=sa.bindparam("b_flag"))
            )
            conn.execute(statement, [{"b_id": e, "b_flag": f} for e, f in flags])

    def list(
        self, *, device_id: str | None = None, limit: int = 1000, conn: Connection | None = None
    ) -> builtins.list[StoredEvent]:
        """Stored events, by device and sequence number."""
        query = (
            sa.select(*_EVENT_COLUMNS).order_by(events.c.device_id, events.c.seq, events.c.id).limit(limit)
        )
        if device_id is not None:
            query = query.where(events.c.device_id == device_id)
        with self._tx(conn) as c:
            return [StoredEvent(**row) for row in c.execute(query).mappings()]

    def count(self, *, conn: Connection | None = None) -> int:
        """How many events are stored."""
        with self._tx(conn) as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


class DeadLetterRecords(Records):
    """Messages the hub refused, with the reason, for an operator to inspect."""

    def add_many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert dead letters (keys: received_at, topic, payload, reason)."""
        if rows:
            conn.execute(dead_letters.insert(), list(rows))

    def list(self, *, limit: int = 100, conn: Connection | None = None) -> list[DeadLetter]:
        """The oldest dead letters first."""
        with self._tx(conn) as c:
            rows = c.execute(sa.select(dead_letters).order_by(dead_letters.c.id).limit(limit)).mappings()
            return [DeadLetter(**row) for row in rows]

    def count(self, *, conn: Connection | None = None) -> int:
        """How many dead letters are stored."""
        with self._tx(conn) as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar_one())
