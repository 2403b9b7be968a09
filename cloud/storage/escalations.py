"""Alert escalation state (`alert_escalations`) and the notifications outbox (`notifications`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud.escalation import EscalationState
from cloud.notify.notifier import Notification
from cloud.storage.base import Records
from cloud.storage.records import ALERT_FIELDS, Alert
from cloud.storage.schema import OPEN_STATUSES, alert_escalations, alerts, notifications

_STATE_FIELDS = ("level", "level_since", "last_step_at", "next_at", "seen_status", "reminders")


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


class EscalationRecords(Records):
    """Reads and writes of `alert_escalations`."""

    def due(
        self, conn: Connection, now: datetime, limit: int
    ) -> builtins.list[tuple[Alert, EscalationState | None]]:
        """Open or acknowledged alerts with a step possibly due (never seen, due time passed, or status
        changed since the last step), locked against officers' concurrent transitions."""
        esc = alert_escalations
        query = (
            sa.select(*alerts.c, *(esc.c[name].label(f"esc_{name}") for name in ("alert_id", *_STATE_FIELDS)))
            .select_from(alerts.outerjoin(esc, esc.c.alert_id == alerts.c.id))
            .where(
                alerts.c.status.in_(OPEN_STATUSES),
                sa.or_(esc.c.alert_id.is_(None), esc.c.next_at <= now, esc.c.seen_status != alerts.c.status),
            )
            .order_by(alerts.c.id)
            .limit(limit)
            .with_for_update(of=alerts)
        )
        found = []
        for row in conn.execute(query).mappings():
            alert = Alert(**{name: row[name] for name in ALERT_FIELDS})
            state = None
            if row["esc_alert_id"] is not None:
                state = EscalationState(**{name: row[f"esc_{name}"] for name in _STATE_FIELDS})
            found.append((alert, state))
        return found

    def get(self, alert_id: int, *, conn: Connection | None = None) -> EscalationState | None:
        """An alert's escalation state (None: not seen by the sweep yet)."""
        query = sa.select(*(alert_escalations.c[n] for n in _STATE_FIELDS)).where(
            alert_escalations.c.alert_id == alert_id
        )
        with self._tx(conn) as c:
            row = c.execute(query).mappings().first()
        return EscalationState(**row) if row else None

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

    def due(self, now: datetime, limit: int) -> builtins.list[Notification]:
        """Pending notifications whose next attempt is due, in the order they were queued."""
        query = (
            sa.select(notifications)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.id)
            .limit(limit)
        )
        with self._tx(None) as c:
            return [
                Notification(
                    r["id"],
                    r["alert_id"],
                    r["ward_id"],
                    r["channel"],
                    r["target"],
                    r["payload"],
                    r["attempts"],
                )
                for r in c.execute(query).mappings()
            ]

    def record_attempt(
        self,
        notification_id: int,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime | None,
        sent_at: datetime | None,
        error: str | None,
    ) -> None:
        """Store the outcome of one attempt."""
        query = (
            sa.update(notifications)
            .where(notifications.c.id == notification_id)
            .values(
                status=status,
                attempts=attempts,
                next_attempt_at=next_attempt_at,
                sent_at=sent_at,
                last_error=error,
            )
        )
        with self._tx(None, write=True) as c:
            c.execute(query)

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
