"""Delivers the notifications outbox: due rows go to their channel's Notifier; failures are retried with
capped exponential backoff and given up (`failed`, logged) after `max_attempts`.

Several hub replicas may dispatch from one database. Each round a dispatcher claims the due rows it will
attempt: it holds them (`claimed_by`, `claimed_until`) for `claim_s`, extends the claim on a target's
remaining rows while it is still working through them, and ends it when it stores an attempt's outcome or
gives rows back (after a failure in their target, at shutdown). Other dispatchers skip held rows, so in the
normal case every notification is attempted by one dispatcher at a time. A replica that dies holding rows
leaves them pending: once its claim expires any dispatcher attempts them again, so delivery is at least
once (webhook receivers drop duplicates by `X-Qmon-Delivery`). An outcome is stored only by the claim's
holder. Replicas' clocks must agree to well within `claim_s` (NTP).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta

from cloud.notify.backoff import retry_delay_s
from cloud.notify.notifier import Delivery, Notification, Notifier
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

log = logging.getLogger(__name__)


def dispatcher_id() -> str:
    """A name for one dispatcher, unique among replicas and restarts: host, process and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


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
        claim_s: float = 300.0,
        owner: str | None = None,
    ) -> None:
        self._repo = repository
        self._clock = clock
        self._notifiers = dict(notifiers)
        self.interval_s = interval_s
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._max_attempts = max_attempts
        self._batch_size = batch_size
        # Longer than one attempt can take; renewed once half of it has passed (see _deliver_in_order).
        self._claim_s = claim_s
        self.owner = owner or dispatcher_id()

    async def dispatch_once(self) -> int:
        """Claim the notifications due now and attempt them; returns how many were attempted.

        Each target (a webhook URL, a recipient list) gets its rows in order, one at a time, and none after a
        failed one this round (so order holds and a dead gateway is not hammered): those are given back.
        Targets proceed side by side, so one that hangs until its timeout delays no other.
        """
        now = self._clock.now()
        claimed = await asyncio.to_thread(
            self._repo.notifications.claim,
            self.owner,
            utc_from_timestamp(now),
            utc_from_timestamp(now + self._claim_s),
            self._batch_size,
        )
        by_target: dict[tuple[str, str], list[Notification]] = {}
        for notification in claimed:
            by_target.setdefault((notification.channel, notification.target), []).append(notification)
        held_until = now + self._claim_s
        attempted = await asyncio.gather(
            *(self._deliver_in_order(rows, held_until) for rows in by_target.values())
        )
        return sum(attempted)

    async def _deliver_in_order(self, rows: list[Notification], held_until: float) -> int:
        remaining = list(rows)
        attempted = 0
        while remaining:
            if self._clock.now() >= held_until - self._claim_s / 2:
                # Slow attempts ate half the claim: extend it before the next one (or stop if it was lost).
                held_until = self._clock.now() + self._claim_s
                ids = [n.id for n in remaining]
                until = utc_from_timestamp(held_until)
                if not await asyncio.to_thread(self._repo.notifications.extend_claim, self.owner, ids, until):
                    log.warning("notifications: lost the claim on #%s; leaving them to others", ids)
                    break
            notification = remaining.pop(0)
            outcome = await self._attempt(notification)
            attempted += 1
            stored = await asyncio.to_thread(self._record, notification, outcome)
            if not outcome.ok or not stored:
                break
        if remaining:
            await asyncio.to_thread(self._repo.notifications.release, self.owner, [n.id for n in remaining])
        return attempted

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
        """Give back the rows still held (another replica may send them now) and close the notifiers."""
        try:
            await asyncio.to_thread(self._repo.notifications.release, self.owner)
        except Exception:  # the database may be away: the claims then expire by themselves
            log.exception("notifications: could not release the claims of %s", self.owner)
        for notifier in self._notifiers.values():
            close = getattr(notifier, "aclose", None)
            if close is not None:
                await close()

    def _record(self, notification: Notification, outcome: Delivery) -> bool:
        """Store the outcome; False if this dispatcher's claim on the row was lost meanwhile."""
        attempts = notification.attempts + 1
        now = utc_from_timestamp(self._clock.now())
        next_attempt_at = sent_at = None
        if outcome.ok:
            status, sent_at = "sent", now
        elif outcome.permanent or attempts >= self._max_attempts:
            status = "failed"
            log.warning(
                "notifications: %s #%d for alert %d failed after %d attempts: %s",
                notification.channel,
                notification.id,
                notification.alert_id,
                attempts,
                outcome.error,
            )
        else:
            status = "pending"
            delay = retry_delay_s(attempts, self._retry_base_s, self._retry_max_s)
            next_attempt_at = now + timedelta(seconds=delay)
            log.info(
                "notifications: %s #%d attempt %d failed (%s); retry in %.0f s",
                notification.channel,
                notification.id,
                attempts,
                outcome.error,
                delay,
            )
        stored = self._repo.notifications.record_attempt(
            notification.id,
            owner=self.owner,
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            sent_at=sent_at,
            error=outcome.error,
        )
        if not stored:
            log.warning(
                "notifications: #%d was taken over by another dispatcher; this attempt's outcome is dropped",
                notification.id,
            )
        return stored
