"""Delivers the notifications outbox: due rows go to their channel's Notifier; failures are retried with
capped exponential backoff and given up (`failed`, logged) after `max_attempts`.

Rows stay `pending` until an attempt's outcome is stored, so a hub that stops mid-delivery sends them again
after a restart: delivery is at least once (webhook receivers drop duplicates by `X-Qmon-Delivery`). One
dispatcher per database is assumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

from cloud.notify.backoff import retry_delay_s
from cloud.notify.notifier import Delivery, Notification, Notifier
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends due notifications through the notifier of their channel."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        notifiers: Mapping[str, Notifier],
        *,
        interval_s: float = 2.0,
        retry_base_s: float = 5.0,
        retry_max_s: float = 600.0,
        max_attempts: int = 8,
        batch_size: int = 50,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._notifiers = dict(notifiers)
        self.interval_s = interval_s
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._max_attempts = max_attempts
        self._batch_size = batch_size

    async def dispatch_once(self) -> int:
        """Attempt the notifications due now; returns how many were attempted.

        Each target (a webhook URL, a recipient list) gets its rows in order, one at a time, and none after a
        failed one this round (so order holds and a dead gateway is not hammered); targets proceed side by
        side, so one that hangs until its timeout delays no other.
        """
        now = utc_from_timestamp(self._clock.now())
        due = await asyncio.to_thread(self._repo.notifications.due, now, self._batch_size)
        by_target: dict[tuple[str, str], list[Notification]] = {}
        for notification in due:
            by_target.setdefault((notification.channel, notification.target), []).append(notification)
        attempted = await asyncio.gather(*(self._deliver_in_order(rows) for rows in by_target.values()))
        return sum(attempted)

    async def _deliver_in_order(self, rows: list[Notification]) -> int:
        for count, notification in enumerate(rows, start=1):
            outcome = await self._attempt(notification)
            await asyncio.to_thread(self._record, notification, outcome)
            if not outcome.ok:
                return count
        return len(rows)

    async def _attempt(self, notification: Notification) -> Delivery:
        notifier = self._notifiers.get(notification.channel)
        if notifier is None:
            return Delivery(False, permanent=True, error=f"channel {notification.channel} not configured")
        try:
            return await notifier.deliver(notification)
        except Exception as exc:  # a notifier bug must not stop the others
            log.exception("notifications: %s notifier failed", notification.channel)
            return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])

    async def run(self) -> None:
        """Dispatch every `interval_s` of the clock's time until cancelled."""
        while True:
            try:
                await self.dispatch_once()
            except Exception:  # the database may be away for a while: rows stay pending
                log.exception("notifications: dispatch failed")
            await self._clock.sleep(self.interval_s)

    async def aclose(self) -> None:
        """Close the notifiers that hold connections."""
        for notifier in self._notifiers.values():
            close = getattr(notifier, "aclose", None)
            if close is not None:
                await close()

    def _record(self, notification: Notification, outcome: Delivery) -> None:
        attempts = notification.attempts + 1
        now = utc_from_timestamp(self._clock.now())
        records = self._repo.notifications
        if outcome.ok:
            records.record_attempt(
                notification.id,
                status="sent",
                attempts=attempts,
                next_attempt_at=None,
                sent_at=now,
                error=None,
            )
            return
        if outcome.permanent or attempts >= self._max_attempts:
            log.warning(
                "notifications: %s #%d for alert %d failed after %d attempts: %s",
                notification.channel,
                notification.id,
                notification.alert_id,
                attempts,
                outcome.error,
            )
            records.record_attempt(
                notification.id,
                status="failed",
                attempts=attempts,
                next_attempt_at=None,
                sent_at=None,
                error=outcome.error,
            )
            return
        delay = retry_delay_s(attempts, self._retry_base_s, self._retry_max_s)
        log.info(
            "notifications: %s #%d attempt %d failed (%s); retry in %.0f s",
            notification.channel,
            notification.id,
            attempts,
            outcome.error,
            delay,
        )
        records.record_attempt(
            notification.id,
            status="pending",
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=delay),
            sent_at=None,
            error=outcome.error,
        )
