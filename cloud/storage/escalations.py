"""Alert escalation state (`alert_escalations`) and the notifications outbox (`notifications`)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud.escalation import EscalationState
from cloud.notify.notifier import Notification
from cloud.storage.base import Records
from cloud.storage.records import ALERT_FIELDS, Alert
from cloud.storage.schema import OPEN_STATUSES, alert_escalations, alerts, notifications

_STATE_FIELDS = ("level", "level_since", "last_step_at", "next_at", "seen_status", "reminders")


def state_columns() -> builtins.list[sa.ColumnElement[Any]]:
    """The state columns of `alert_escalations`, labelled `esc_*`, for a query outer-joined to it."""
    return [alert_escalations.c[name].label(f"esc_{name}") for name in ("alert_id", *_STATE_FIELDS)]


def state_from_row(row: RowMapping) -> EscalationState | None:
    """The escalation state in a row selected with `state_columns()` (None: no state stored)."""
    if row["esc_alert_id"] is None:
        return None
    return EscalationState(**{name: row[f"esc_{name}"] for name in _STATE_FIELDS})


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """An outbox row as stored."""

    id: int
    alert_id: int
    ward_id: str
    channel: str
    target: str
    kind: str
    level: int
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None


class EscalationRecords(Records):
    """Reads and writes of `alert_escalations`."""

    def due(
        self, conn: Connection, now: datetime, limit: int
    ) -> builtins.list[tuple[Alert, EscalationState | None]]:
        """Open or acknowledged alerts with a step possibly due (never seen, due time passed, or status
        changed since the last step), locked against officers' concurrent transitions."""
        esc = alert_escalations
        query = (
            sa.select(*alerts.c, *state_columns())
            .select_from(alerts.outerjoin(esc, esc.c.alert_id == alerts.c.id))
            .where(
                alerts.c.status.in_(OPEN_STATUSES),
                sa.or_(esc.c.alert_id.is_(None), esc.c.next_at <= now, esc.c.seen_status != alerts.c.status),
            )
            .order_by(alerts.c.id)
            .limit(limit)
            .with_for_update(of=alerts)
        )
        return [
            (Alert(**{name: row[name] for name in ALERT_FIELDS}), state_from_row(row))
            for row in conn.execute(query).mappings()
        ]

    def get(self, alert_id: int, *, conn: Connection | None = None) -> EscalationState | None:
        """An alert's escalation state (None: not seen by the sweep yet)."""
        query = sa.select(*(alert_escalations.c[n] for n in _STATE_FIELDS)).where(
            alert_escalations.c.alert_id == alert_id
        )
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return EscalationState(**row) if row else None

    def states(
        self, alert_ids: Collection[int], *, conn: Connection | None = None
    ) -> dict[int, EscalationState]:
        """The escalation states of these alerts, by alert id (alerts never seen by the sweep are missing)."""
        if not alert_ids:
            return {}
        query = sa.select(alert_escalations).where(alert_escalations.c.alert_id.in_(list(alert_ids)))
        with self._tx(conn) as c:
            return {
                row["alert_id"]: EscalationState(**{name: row[name] for name in _STATE_FIELDS})
                for row in c.execute(query).mappings()
            }

    def save(
        self, conn: Connection, alert_id: int, state: EscalationState, is_new: bool, now: datetime
    ) -> None:
        """Insert (first step) or update an alert's state."""
        values = {name: getattr(state, name) for name in _STATE_FIELDS}
        values["updated_at"] = now
        if is_new:
            conn.execute(sa.insert(alert_escalations).values(alert_id=alert_id, **values))
        else:
            conn.execute(
                sa.update(alert_escalations).where(alert_escalations.c.alert_id == alert_id).values(**values)
            )


class NotificationRecords(Records):
    """Reads and writes of the `notifications` outbox."""

    def add(self, conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> None:
        """Queue notifications (keys: alert_id, ward_id, channel, target, kind, level, payload) as pending."""
        if rows:
            conn.execute(
                sa.insert(notifications),
                [
                    {**r, "status": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now}
                    for r in rows
                ],
            )

    def claim(self, owner: str, now: datetime, until: datetime, limit: int) -> builtins.list[Notification]:
        """Take the pending rows due at `now` that no dispatcher holds (oldest first, up to `limit`) and hold
        them for `owner` until `until`.

        On PostgreSQL rows that another dispatcher is claiming at this moment are skipped, not waited for
        (FOR UPDATE SKIP LOCKED); SQLite has one writer, so its claim is atomic as it is.
        """
        free = sa.or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until <= now)
        query = (
            sa.select(notifications)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now, free)
            .order_by(notifications.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._tx(None, write=True) as c:
            rows = c.execute(query).mappings().all()
            if rows:
                c.execute(
                    sa.update(notifications)
                    .where(notifications.c.id.in_([r["id"] for r in rows]))
                    .values(claimed_by=owner, claimed_until=until)
                )
        return [
            Notification(
                r["id"], r["alert_id"], r["ward_id"], r["channel"], r["target"], r["payload"], r["attempts"]
            )
            for r in rows
        ]

    def extend_claim(self, owner: str, ids: Sequence[int], until: datetime) -> bool:
        """Hold `owner`'s pending rows `ids` until `until`; False if it no longer holds every one of them."""
        query = (
            sa.update(notifications)
            .where(
                notifications.c.id.in_(ids),
                notifications.c.claimed_by == owner,
                notifications.c.status == "pending",
            )
            .values(claimed_until=until)
        )
        with self._tx(None, write=True) as c:
            return c.execute(query).rowcount == len(ids)

    def release(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Give up `owner`'s claims (on `ids`, else all of them) so that any dispatcher may attempt the rows
        now; returns how many were released."""
        query = (
            sa.update(notifications)
            .where(notifications.c.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )
        if ids is not None:
            query = query.where(notifications.c.id.in_(ids))
        with self._tx(None, write=True) as c:
            return c.execute(query).rowcount

    def record_attempt(
        self,
        notification_id: int,
        *,
        owner: str,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        sent_at: datetime | None,
        error: str | None,
    ) -> bool:
        """Store the outcome of one attempt by the claim's holder and end the claim; False (nothing stored)
        if `owner` no longer holds the row (its claim expired and another dispatcher took it over)."""
        query = (
            sa.update(notifications)
            .where(notifications.c.id == notification_id, notifications.c.claimed_by == owner)
            .values(
                status=status,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                sent_at=sent_at,
                last_error=error,
                claimed_by=None,
                claimed_until=None,
            )
        )
        with self._tx(None, write=True) as c:
            return c.execute(query).rowcount == 1

    def page(
        self,
        *,
        wards: frozenset[str] | None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[StoredNotification]:
        """Outbox rows of `wards` (None: every ward), of one status if given, newest first."""
        query = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit).offset(offset)
        if wards is not None:
            query = query.where(notifications.c.ward_id.in_(sorted(wards)))
        if status is not None:
            query = query.where(notifications.c.status == status)
        with self._tx(None) as c:
            return [StoredNotification(**r) for r in c.execute(query).mappings()]

    def get(self, notification_id: int, *, conn: Connection | None = None) -> StoredNotification | None:
        """One outbox row (locked for update when `conn` is a PostgreSQL write transaction's)."""
        query = sa.select(notifications).where(notifications.c.id == notification_id)
        if conn is not None:
            query = query.with_for_update()
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return StoredNotification(**row) if row else None

    def requeue(self, conn: Connection, notification_id: int, now: datetime) -> None:
        """Make a row pending again with no attempt made, due at `now` (its last error is kept)."""
        conn.execute(
            sa.update(notifications)
            .where(notifications.c.id == notification_id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=now,
                sent_at=None,
                claimed_by=None,
                claimed_until=None,
            )
        )

    def list(
        self, *, alert_id: int | None = None, status: str | None = None, conn: Connection | None = None
    ) -> builtins.list[StoredNotification]:
        """Outbox rows (of one alert, with one status), oldest first."""
        query = sa.select(notifications).order_by(notifications.c.id)
        if alert_id is not None:
            query = query.where(notifications.c.alert_id == alert_id)
        if status is not None:
            query = query.where(notifications.c.status == status)
        with self._tx(conn) as c:
            return [StoredNotification(**r) for r in c.execute(query).mappings()]
