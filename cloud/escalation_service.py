"""The escalation sweep: applies cloud/escalation.py's steps to the stored alerts, one transaction per sweep.

Each step's new state, its timeline and change-log entries (so the officers' feed and the alert's timeline
show it) and its notifications (the outbox, cloud/notify/) are committed together: a crash before the
commit loses nothing (the step is still due at the next sweep), and after it nothing is repeated.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from cloud.alerts import Publish, log_changes
from cloud.escalation import AlertFacts, EscalationPolicy, plan_escalation
from cloud.notify.routing import AlertSummary, route
from cloud.notify.settings import NotificationSettings
from cloud.storage.records import Alert, AlertChange
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)

# The change-log kinds of recorded steps, as the live feed reports them.
CHANGE_KINDS = {"escalated": "escalated", "reminder": "reminded"}


def alert_facts(alert: Alert) -> AlertFacts:
    """What the escalation policy reads of a stored alert."""
    return AlertFacts(
        alert.id, alert.type, alert.severity, alert.status, alert.opened_at, alert.acknowledged_at
    )


def alert_summary(alert: Alert) -> AlertSummary:
    """What a notification tells of a stored alert."""
    return AlertSummary(
        alert.id,
        alert.type,
        alert.severity,
        alert.status,
        alert.ward_id,
        alert.site_id,
        alert.title,
        alert.summary,
        alert.opened_at,
        alert.last_event_at,
    )


class EscalationService:
    """Runs the escalation sweep every `interval_s` of the injected clock."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        policy: EscalationPolicy,
        notifications: NotificationSettings,
        publish: Publish | None = None,
        *,
        interval_s: float = 10.0,
        batch_size: int = 500,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self.policy = policy
        self._notifications = notifications
        self._publish = publish
        self.interval_s = interval_s
        self._batch_size = batch_size

    def sweep(self) -> int:
        """Apply every step due now; returns how many steps were taken."""
        now = utc_from_timestamp(self._clock.now())
        repo = self._repo
        with repo.write() as conn:
            due = repo.escalations.due(conn, now, self._batch_size)
            timeline: list[dict[str, Any]] = []
            recorded: list[tuple[Alert, str]] = []
            outbox: list[dict[str, Any]] = []
            steps = 0
            for alert, state in due:
                step = plan_escalation(alert_facts(alert), state, self.policy, now)
                if step is None:
                    continue
                steps += 1
                repo.escalations.save(conn, alert.id, step.state, state is None, now)
                if step.recorded:
                    timeline.append(
                        {
                            "alert_id": alert.id,
                            "event_id": None,
                            "kind": step.kind,
                            "time": now,
                            "note": step.note,
                        }
                    )
                    recorded.append((alert, CHANGE_KINDS[step.kind]))
                if step.notifies:
                    outbox.extend(self._notifications_of(alert, step.kind, step.level, now))
            if timeline:
                repo.alerts.add_timeline(conn, timeline)
            changes: list[AlertChange] = log_changes(repo, conn, recorded, now) if recorded else []
            repo.notifications.add(conn, outbox, now)
        if changes and self._publish is not None:
            self._publish(changes)
        if steps:
            log.info("escalation: %d steps, %d notifications queued", steps, len(outbox))
        return steps

    async def run(self) -> None:
        """Sweep every `interval_s` of the clock's time until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.sweep)
            except Exception:  # the database may be away for a while: the steps stay due
                log.exception("escalation: sweep failed")
            await self._clock.sleep(self.interval_s)

    def _notifications_of(self, alert: Alert, kind: str, level: int, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "alert_id": alert.id,
                "ward_id": alert.ward_id,
                "channel": out.channel,
                "target": out.target,
                "kind": kind,
                "level": level,
                "payload": out.payload,
            }
            for out in route(alert_summary(alert), kind, level, now, self._notifications)
        ]
