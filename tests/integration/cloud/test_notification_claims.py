"""Hub replicas sharing one database: dispatchers claim the rows they attempt, so that each notification is
delivered once in the normal case, and a crashed replica's claim is taken over once it expires."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from cloud.notify.dispatcher import Dispatcher
from cloud.notify.notifier import DELIVERED, Delivery, Notification
from cloud.notify.webhook import WebhookNotifier
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from cloud.storage.schema import notifications
from gateway.protocol import utc_from_timestamp
from qmon.clock import ManualClock
from tests.integration.cloud.test_escalation import open_alert
from tests.integration.cloud.test_notifications import (  # noqa: F401 - the receiver's fixture
    receiver_factory,
    settings,
)

CLAIM_S = 120.0


def queue_rows(
    repo: Repository, clock: ManualClock, count: int, target: str = "http://127.0.0.1:9/hook"
) -> None:
    """`count` pending webhook notifications of one new alert in ward-a, due now."""
    alert = open_alert(repo, clock)
    rows = [
        {
            "alert_id": alert.id,
            "ward_id": "ward-a",
            "channel": "webhook",
            "target": target,
            "kind": "reminder",
            "level": 0,
            "payload": {"alert_id": alert.id, "n": n},
        }
        for n in range(count)
    ]
    with repo.write() as conn:
        repo.notifications.add(conn, rows, utc_from_timestamp(clock.now()))


class Recording:
    """A webhook Notifier that delivers at once and keeps the ids it was given; `during` runs inside each
    delivery (to let time pass, or another replica act, while this one is busy)."""

    channel = "webhook"

    def __init__(self, during: Any = None) -> None:
        self.delivered: list[int] = []
        self._during = during

    async def deliver(self, notification: Notification) -> Delivery:
        if self._during is not None:
            await self._during()
        self.delivered.append(notification.id)
        return DELIVERED


def replica(repo: Repository, clock: ManualClock, notifier: Any, **options: Any) -> Dispatcher:
    """One hub replica's dispatcher."""
    options.setdefault("claim_s", CLAIM_S)
    return Dispatcher(repo, clock, {"webhook": notifier}, **options)


async def test_two_replicas_on_postgresql_deliver_each_notification_once(
    postgres_url: str,
    clock: ManualClock,
    receiver_factory: Any,  # noqa: F811
) -> None:
    upgrade(postgres_url)
    first_repo, second_repo = Repository.from_url(postgres_url), Repository.from_url(postgres_url)
    receiver = receiver_factory(now=clock.now)
    notify = settings(receiver.url)
    queue_rows(first_repo, clock, 40, receiver.url)
    replicas = [
        Dispatcher(repo, clock, {"webhook": WebhookNotifier(notify.webhooks, clock)}, batch_size=4)
        for repo in (first_repo, second_repo)
    ]
    attempted = [0, 0]
    try:
        for _ in range(20):
            counts = await asyncio.gather(*(r.dispatch_once() for r in replicas))
            attempted = [total + n for total, n in zip(attempted, counts, strict=True)]
            if sum(counts) == 0:
                break
    finally:
        for r in replicas:
            await r.aclose()
    deliveries = Counter(headers["X-Qmon-Delivery"] for headers, _, _ in receiver.requests)
    assert len(deliveries) == 40 and set(deliveries.values()) == {1}, deliveries
    assert all(ok for _, _, ok in receiver.requests)
    assert sum(attempted) == 40 and min(attempted) > 0, attempted  # both replicas did part of the work
    rows = first_repo.notifications.list()
    assert {(r.status, r.attempts, r.claimed_by, r.claimed_until) for r in rows} == {("sent", 1, None, None)}
    first_repo.close()
    second_repo.close()


async def test_rows_another_transaction_is_claiming_are_skipped_not_waited_for(
    postgres_url: str, clock: ManualClock
) -> None:
    upgrade(postgres_url)
    repo, other = Repository.from_url(postgres_url), Repository.from_url(postgres_url)
    queue_rows(repo, clock, 3)
    now = utc_from_timestamp(clock.now())
    try:
        with other.engine.connect() as conn, conn.begin():
            first_id: int = conn.execute(
                sa.select(notifications.c.id).order_by(notifications.c.id).limit(1).with_for_update()
            ).scalar_one()
            # Another replica is between its SELECT ... FOR UPDATE and its commit: its row is skipped.
            claimed = await asyncio.wait_for(
                asyncio.to_thread(repo.notifications.claim, "replica-b", now, now, 10), timeout=10
            )
            assert first_id not in [n.id for n in claimed] and len(claimed) == 2
    finally:
        repo.close()
        other.close()


async def test_an_expired_claim_of_a_crashed_replica_is_taken_over(
    repo: Repository, clock: ManualClock
) -> None:
    queue_rows(repo, clock, 2)
    now = clock.now()
    crashed = repo.notifications.claim(
        "crashed-replica", utc_from_timestamp(now), utc_from_timestamp(now + CLAIM_S), 10
    )
    assert len(crashed) == 2
    notifier = Recording()
    survivor = replica(repo, clock, notifier)
    assert await survivor.dispatch_once() == 0  # held by the crashed replica
    clock.advance(CLAIM_S - 1)
    assert await survivor.dispatch_once() == 0
    clock.advance(1)
    assert await survivor.dispatch_once() == 2  # its claim has expired: at least once
    assert notifier.delivered == [n.id for n in crashed]
    assert [(r.status, r.claimed_by) for r in repo.notifications.list()] == [("sent", None), ("sent", None)]
    # The crashed replica, had it been only slow, could not store an outcome over the survivor's.
    late = repo.notifications.record_attempt(
        crashed[0].id,
        owner="crashed-replica",
        status="failed",
        attempts=1,
        next_attempt_at=None,
        sent_at=None,
        error="late",
    )
    assert late is False and repo.notifications.list()[0].status == "sent"


async def test_a_claim_is_extended_while_a_slow_target_is_worked_through(
    sqlite_repo: Repository, clock: ManualClock
) -> None:
    queue_rows(sqlite_repo, clock, 3)
    other_notifier = Recording()
    other = replica(sqlite_repo, clock, other_notifier)
    others_attempts: list[int] = []

    async def slow_delivery() -> None:
        clock.advance(CLAIM_S * 0.8)  # each attempt takes most of a claim
        others_attempts.append(await other.dispatch_once())

    busy = replica(sqlite_repo, clock, Recording(slow_delivery))
    assert await busy.dispatch_once() == 3
    assert others_attempts == [0, 0, 0] and other_notifier.delivered == []
    assert [r.status for r in sqlite_repo.notifications.list()] == ["sent"] * 3


async def test_rows_behind_a_failure_and_at_shutdown_are_given_back(
    sqlite_repo: Repository,
    clock: ManualClock,
    receiver_factory: Any,  # noqa: F811
) -> None:
    receiver = receiver_factory(statuses=[500], now=clock.now)
    queue_rows(sqlite_repo, clock, 3, receiver.url)
    notify = settings(receiver.url)
    send = replica(sqlite_repo, clock, WebhookNotifier(notify.webhooks, clock))
    assert await send.dispatch_once() == 1  # the first failed: the others wait, unclaimed
    rows = sqlite_repo.notifications.list()
    assert [(r.status, r.attempts, r.claimed_by) for r in rows] == [
        ("pending", 1, None),
        ("pending", 0, None),
        ("pending", 0, None),
    ]
    now = clock.now()
    held = sqlite_repo.notifications.claim(
        send.owner, utc_from_timestamp(now), utc_from_timestamp(now + CLAIM_S), 10
    )
    assert len(held) == 2
    await send.aclose()  # a replica that stops gives its rows back at once
    assert [r.claimed_by for r in sqlite_repo.notifications.list()] == [None, None, None]
    later = replica(sqlite_repo, clock, Recording())
    assert await later.dispatch_once() == 2
    assert json.loads(receiver.requests[0][1])["n"] == 0
