"""Alerts, their timelines, and the alert change log (whose ids are the SSE event ids)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.storage.base import Records
from cloud.storage.escalations import state_columns, state_from_row
from cloud.storage.records import ALERT_FIELDS, Alert, AlertChange, TimelineEntry
from cloud.storage.schema import OPEN_STATUSES, alert_changes, alert_escalations, alert_timeline, alerts

# What may change on an alert after it opened (everything else is fixed at opening).
MUTABLE_FIELDS = (
    "severity",
    "status",
    "active",
    "first_event_at",
    "last_event_at",
    "event_count",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "resolution_note",
    "summary",
    "updated_at",
)
_TIMES = frozenset(
    {"opened_at", "first_event_at", "last_event_at", "acknowledged_at", "resolved_at", "updated_at"}
)
_SET_COLUMNS = (*MUTABLE_FIELDS, "version")
_TIMELINE_COLUMNS = ("alert_id", "event_id", "kind", "time", "note")
_CHANGE_COLUMNS = ("id", "alert_id", "ward_id", "kind", "time")


class StaleAlertError(Exception):
    """An alert changed since it was read (another writer won); re-read and try again."""


def _scoped(query: Any, wards: Collection[str] | None) -> Any:
    return query if wards is None else query.where(alerts.c.ward_id.in_(list(wards)))


class AlertRecords(Records):
    """Reads and writes of `alerts`, `alert_timeline` and `alert_changes`."""

    def load_open(self, conn: Connection, order_ids: Collection[int]) -> builtins.list[Alert]:
        """Open or acknowledged alerts of these orders."""
        if not order_ids:
            return []
        query = sa.select(alerts).where(
            alerts.c.order_id.in_(list(order_ids)), alerts.c.status.in_(OPEN_STATUSES)
        )
        return [Alert.from_row(r) for r in conn.execute(query).mappings()]

    def get(self, alert_id: int, *, conn: Connection | None = None, lock: bool = False) -> Alert | None:
        """One alert (locked for update when `lock`)."""
        query = sa.select(alerts).where(alerts.c.id == alert_id)
        if lock:
            query = query.with_for_update()
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return Alert.from_row(row) if row else None

    def insert(self, conn: Connection, new: Sequence[Mapping[str, Any]]) -> builtins.list[int]:
        """Insert new alerts (their id is ignored); return their ids in the order given."""
        ids = self.bulk.reserve_ids(conn, alerts, len(new))
        ts = self.bulk.ts
        rows = [
            tuple(i if n == "id" else ts(a[n]) if n in _TIMES else a[n] for n in ALERT_FIELDS)
            for i, a in zip(ids, new, strict=True)
        ]
        self.bulk.insert(conn, alerts, ALERT_FIELDS, rows)
        return ids

    def update(self, conn: Connection, changed: Sequence[Mapping[str, Any]]) -> None:
        """Write the mutable fields of alerts whose `version` was bumped by one since they were read.

        Raises StaleAlertError if any of them changed in between (optimistic concurrency).
        """
        ts = self.bulk.ts
        rows = [
            (
                a["severity"],
                a["status"],
                a["active"],
                ts(a["first_event_at"]),
                ts(a["last_event_at"]),
                a["event_count"],
                ts(a["acknowledged_at"]),
                a["acknowledged_by"],
                ts(a["resolved_at"]),
                a["resolved_by"],
                a["resolution_note"],
                a["summary"],
                ts(a["updated_at"]),
                a["version"],
                a["id"],
                a["version"] - 1,
            )
            for a in changed
        ]
        if self.bulk.update(conn, alerts, _SET_COLUMNS, ("id", "version"), rows) != len(rows):
            raise StaleAlertError("an alert changed concurrently")

    def add_timeline(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Append timeline entries (keys: alert_id, event_id, kind, time, note)."""
        ts = self.bulk.ts
        values = [(r["alert_id"], r["event_id"], r["kind"], ts(r["time"]), r["note"]) for r in rows]
        self.bulk.insert(conn, alert_timeline, _TIMELINE_COLUMNS, values)

    def timeline(self, alert_id: int, *, conn: Connection | None = None) -> builtins.list[TimelineEntry]:
        """An alert's history, oldest first (by time, then by when it was recorded)."""
        query = (
            sa.select(alert_timeline)
            .where(alert_timeline.c.alert_id == alert_id)
            .order_by(alert_timeline.c.time, alert_timeline.c.id)
        )
        with self._tx(conn) as c:
            return [TimelineEntry(**row) for row in c.execute(query).mappings()]

    def append_changes(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> builtins.list[int]:
        """Append change-log entries (keys: alert_id, ward_id, kind, time); return their ids in order."""
        ids = self.bulk.reserve_ids(conn, alert_changes, len(rows))
        ts = self.bulk.ts
        values = [
            (i, r["alert_id"], r["ward_id"], r["kind"], ts(r["time"])) for i, r in zip(ids, rows, strict=True)
        ]
        self.bulk.insert(conn, alert_changes, _CHANGE_COLUMNS, values)
        return ids

    def list(
        self,
        *,
        wards: Collection[str] | None,
        status: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
        conn: Connection | None = None,
    ) -> builtins.list[Alert]:
        """Alerts in `wards` (None: all) matching the filters, newest first; `since` bounds opened_at."""
        query = _scoped(sa.select(alerts), wards)
        if status is not None:
            query = query.where(alerts.c.status == status)
        if type is not None:
            query = query.where(alerts.c.type == type)
        if since is not None:
            query = query.where(alerts.c.opened_at >= since)
        query = query.order_by(alerts.c.opened_at.desc(), alerts.c.id.desc()).limit(limit).offset(offset)
        with self._tx(conn) as c:
            return [Alert.from_row(r) for r in c.execute(query).mappings()]

    def count(
        self,
        *,
        wards: Collection[str] | None = None,
        status: str | None = None,
        conn: Connection | None = None,
    ) -> int:
        """How many alerts are in `wards` (None: all), optionally with one status."""
        query = _scoped(sa.select(sa.func.count()).select_from(alerts), wards)
        if status is not None:
            query = query.where(alerts.c.status == status)
        with self._tx(conn) as c:
            return int(c.execute(query).scalar_one())

    def changes_after(
        self,
        after_id: int,
        *,
        wards: Collection[str] | None,
        limit: int = 500,
        conn: Connection | None = None,
    ) -> builtins.list[AlertChange]:
        """Change-log entries after `after_id` in `wards`, oldest first, each with its alert and its
        escalation state as they are now."""
        query = (
            sa.select(
                alert_changes.c.id.label("change_id"),
                alert_changes.c.kind.label("change_kind"),
                alert_changes.c.time.label("change_time"),
                *alerts.c,
                *state_columns(),
            )
            .join(alerts, alerts.c.id == alert_changes.c.alert_id)
            .outerjoin(alert_escalations, alert_escalations.c.alert_id == alerts.c.id)
            .where(alert_changes.c.id > after_id)
            .order_by(alert_changes.c.id)
            .limit(limit)
        )
        if wards is not None:
            query = query.where(alert_changes.c.ward_id.in_(list(wards)))
        with self._tx(conn) as c:
            rows = c.execute(query).mappings().all()
        return [
            AlertChange(
                r["change_id"],
                r["id"],
                r["ward_id"],
                r["change_kind"],
                r["change_time"],
                Alert(**{n: r[n] for n in ALERT_FIELDS}),
                state_from_row(r),
            )
            for r in rows
        ]

    def last_change_id(self, *, conn: Connection | None = None) -> int:
        """The newest change-log id (0 when empty)."""
        with self._tx(conn) as c:
            return int(
                c.execute(sa.select(sa.func.coalesce(sa.func.max(alert_changes.c.id), 0))).scalar_one()
            )
