"""The notifications outbox delivered to real receivers: a local HTTP server (signed webhooks, retries with
backoff, a receiver that is down) and a local SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cloud.escalation_service import EscalationService
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.email import EmailNotifier
from cloud.notify.notifier import Notifier
from cloud.notify.settings import EscalationSettings, NotificationSettings
from cloud.notify.signing import verify
from cloud.notify.webhook import WebhookNotifier
from cloud.storage.escalations import StoredNotification
from cloud.storage.records import Alert
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.integration.cloud.support import hub_http
from tests.integration.cloud.test_escalation import open_alert

SECRET = "a-webhook-secret-that-is-long-enough"
ESCALATION = EscalationSettings.model_validate({"deadlines_s": {"left_home": 900}})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the scripted statuses (then 200), keeps each request
    and whether its signature verified."""

    port: int
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)
    now: Callable[[], float] = time.time

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(
        port: int = 0, statuses: list[int] | None = None, now: Callable[[], float] = time.time
    ) -> Receiver:
        receiver = Receiver(port, list(statuses or []), now=now)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: v for k, v in self.headers.items()}
                ok = verify(
                    SECRET.encode(),
                    headers.get("X-Qmon-Timestamp", ""),
                    headers.get("X-Qmon-Signature", ""),
                    body,
                    now=receiver.now(),
                )
                receiver.requests.append((headers, body, ok))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        receiver.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def settings(url: str | None = None, smtp_port: int | None = None) -> NotificationSettings:
    values: dict[str, Any] = {"rules": [{"min_severity": "high", "channels": ["webhook", "email"]}]}
    if url is not None:
        values["webhooks"] = {"ward-a": {"url": url, "secret": SECRET}}
    if smtp_port is not None:
        values["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "from_address": "qmon-hub@example.org",
            "recipients": {"ward-a": {0: ["an@example.org", "binh@example.org"]}},
        }
    return NotificationSettings.model_validate(values)


def queue(repo: Repository, clock: ManualClock, notify: NotificationSettings) -> Alert:
    """An open alert, seen by the escalation sweep: its level-0 notifications are in the outbox."""
    alert = open_alert(repo, clock)
    EscalationService(repo, clock, ESCALATION.to_policy(), notify).sweep()
    return alert


def dispatcher(
    repo: Repository, clock: ManualClock, notify: NotificationSettings, **options: Any
) -> Dispatcher:
    notifiers: dict[str, Notifier] = {}
    if notify.webhooks:
        notifiers["webhook"] = WebhookNotifier(notify.webhooks, clock, timeout_s=5)
    if notify.smtp is not None:
        notifiers["email"] = EmailNotifier(notify.smtp, "https://qmon.example.org")
    options.setdefault("retry_base_s", 5)
    options.setdefault("retry_max_s", 60)
    return Dispatcher(repo, clock, notifiers, **options)


def only(repo: Repository) -> StoredNotification:
    (row,) = repo.notifications.list()
    return row


async def test_a_signed_webhook_is_retried_with_backoff_until_delivered(
    repo: Repository, clock: ManualClock, receiver_factory: Any
) -> None:
    receiver = receiver_factory(statuses=[500, 503], now=clock.now)
    notify = settings(receiver.url)
    alert = queue(repo, clock, notify)
    send = dispatcher(repo, clock, notify)
    try:
        assert await send.dispatch_once() == 1
        row = only(repo)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500: ok")
        assert await send.dispatch_once() == 0  # not due before its backoff
        clock.advance(5)
        assert await send.dispatch_once() == 1
        assert (only(repo).status, only(repo).attempts) == ("pending", 2)
        clock.advance(9)
        assert await send.dispatch_once() == 0  # the second retry waits twice as long
        clock.advance(1)
        assert await send.dispatch_once() == 1
    finally:
        await send.aclose()
    row = only(repo)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None) and row.sent_at is not None
    assert len(receiver.requests) == 3 and all(ok for _, _, ok in receiver.requests)
    headers, body, _ = receiver.requests[-1]
    assert headers["X-Qmon-Delivery"] == str(row.id) and headers["Content-Type"] == "application/json"
    assert headers["X-Qmon-Signature"].startswith("sha256=")
    payload = json.loads(body)
    assert (payload["alert_id"], payload["kind"], payload["level"], payload["ward"]) == (
        alert.id,
        "opened",
        0,
        "ward-a",
    )
    assert "full_name" not in payload and "Nguyen" not in body.decode()
    # A tampered body (or a stale timestamp) does not verify with the same headers.
    tampered = body.replace(b'"level":0', b'"level":2')
    stamp, signature = headers["X-Qmon-Timestamp"], headers["X-Qmon-Signature"]
    assert not verify(SECRET.encode(), stamp, signature, tampered, now=clock.now())
    assert not verify(SECRET.encode(), stamp, signature, body, now=clock.now() + 3600)


async def test_a_targets_notifications_go_in_order_and_wait_behind_a_failure(
    sqlite_repo: Repository, clock: ManualClock, receiver_factory: Any
) -> None:
    receiver = receiver_factory(statuses=[500], now=clock.now)
    notify = settings(receiver.url)
    first = queue(sqlite_repo, clock, notify)
    second = open_alert(sqlite_repo, clock, "tamper", device_id="0000000b")
    EscalationService(sqlite_repo, clock, ESCALATION.to_policy(), notify).sweep()
    send = dispatcher(sqlite_repo, clock, notify)
    try:
        assert await send.dispatch_once() == 1  # the first failed: the second waits behind it
        clock.advance(5)
        assert await send.dispatch_once() == 2
    finally:
        await send.aclose()
    delivered = [json.loads(body)["alert_id"] for _, body, _ in receiver.requests]
    assert delivered == [first.id, first.id, second.id]
    assert [row.status for row in sqlite_repo.notifications.list()] == ["sent", "sent"]


async def test_a_receiver_that_is_down_is_retried_and_nothing_is_lost(
    repo: Repository, clock: ManualClock, receiver_factory: Any, migrated_database_url: str
) -> None:
    port = free_port()  # nothing listens there: connection refused
    notify = settings(f"http://127.0.0.1:{port}/hook")
    queue(repo, clock, notify)
    send = dispatcher(repo, clock, notify, max_attempts=5)
    try:
        for wait in (0, 5, 10):
            clock.advance(wait)
            assert await send.dispatch_once() == 1
        row = only(repo)
        assert (row.status, row.attempts) == ("pending", 3) and "ConnectError" in (row.last_error or "")
    finally:
        await send.aclose()
    # The hub restarts meanwhile; the receiver comes back on its port; the pending row is still delivered.
    receiver = receiver_factory(port=port, now=clock.now)
    restarted = Repository.from_url(migrated_database_url)
    again = dispatcher(restarted, clock, notify, max_attempts=5)
    try:
        clock.advance(20)
        assert await again.dispatch_once() == 1
    finally:
        await again.aclose()
        restarted.close()
    row = only(repo)
    assert (
        (row.status, row.attempts) == ("sent", 4) and len(receiver.requests) == 1 and receiver.requests[0][2]
    )


async def test_a_receiver_down_for_good_fails_after_the_last_attempt(
    repo: Repository, clock: ManualClock
) -> None:
    notify = settings(f"http://127.0.0.1:{free_port()}/hook")
    queue(repo, clock, notify)
    send = dispatcher(repo, clock, notify, max_attempts=3)
    try:
        for wait in (0, 5, 10, 60, 600):
            clock.advance(wait)
            await send.dispatch_once()
    finally:
        await send.aclose()
    row = only(repo)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert "ConnectError" in (row.last_error or "")


@pytest.mark.parametrize(
    ("status", "final"), [(400, "failed"), (404, "failed"), (429, "pending"), (408, "pending")]
)
async def test_client_errors_are_final_except_timeouts_and_rate_limits(
    sqlite_repo: Repository, clock: ManualClock, receiver_factory: Any, status: int, final: str
) -> None:
    receiver = receiver_factory(statuses=[status], now=clock.now)
    notify = settings(receiver.url)
    queue(sqlite_repo, clock, notify)
    send = dispatcher(sqlite_repo, clock, notify)
    try:
        await send.dispatch_once()
    finally:
        await send.aclose()
    row = only(sqlite_repo)
    assert (row.status, row.attempts, row.last_error) == (final, 1, f"HTTP {status}: ok")


class Inbox:
    """aiosmtpd's handler: keeps every message with its envelope."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


async def test_email_goes_to_the_wards_recipients_through_smtp(
    repo: Repository, clock: ManualClock, smtp_server: tuple[int, Inbox]
) -> None:
    port, inbox = smtp_server
    notify = settings(smtp_port=port)
    alert = queue(repo, clock, notify)
    send = dispatcher(repo, clock, notify)
    assert await send.dispatch_once() == 1
    row = only(repo)
    assert (row.channel, row.status, row.attempts) == ("email", "sent", 1)
    ((sender, recipients, raw),) = inbox.messages
    assert sender == "qmon-hub@example.org" and recipients == ["an@example.org", "binh@example.org"]
    message = message_from_bytes(raw, policy=default_policy)
    assert message["Subject"] == f"[qmon ward-a] New alert: Left home (critical, level 0) #{alert.id}"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "left home (RSSI -90 dBm)" in body and "Level:      0 (ward officers)" in body
    assert f"https://qmon.example.org/alerts/{alert.id}" in body and "Nguyen" not in body


async def test_an_smtp_server_that_is_down_is_retried(sqlite_repo: Repository, clock: ManualClock) -> None:
    notify = settings(smtp_port=free_port())
    queue(sqlite_repo, clock, notify)
    send = dispatcher(sqlite_repo, clock, notify)
    assert await send.dispatch_once() == 1
    row = only(sqlite_repo)
    assert (row.status, row.attempts) == ("pending", 1) and "ConnectionRefusedError" in (row.last_error or "")


async def test_the_hub_escalates_and_delivers_by_itself(
    sqlite_repo: Repository, receiver_factory: Any
) -> None:
    clocks: list[ManualClock] = []  # the hub's own clock, once it runs
    receiver = receiver_factory(now=lambda: clocks[0].now())
    hub_settings = {
        "escalation": {
            "deadlines_s": {"left_home": 900},
            "reminder_interval_s": None,
            "sweep_interval_s": 10,
        },
        "notifications": {
            "rules": [{"types": ["left_home"], "channels": ["webhook"]}],
            "webhooks": {"*": {"url": receiver.url, "secret": SECRET}},
            "dispatch_interval_s": 2,
        },
    }
    async with hub_http(sqlite_repo, **hub_settings) as (_client, app):
        clock: ManualClock = app.state.hub.clock
        clocks.append(clock)
        alert = open_alert(sqlite_repo, clock)

        async def until(count: int) -> None:
            for _ in range(500):
                sent = [n for n in sqlite_repo.notifications.list(alert_id=alert.id) if n.status == "sent"]
                if len(receiver.requests) >= count and len(sent) >= count:
                    return
                clock.advance(2)
                await asyncio.sleep(0.01)
            raise AssertionError(f"{count} webhook deliveries expected, got {len(receiver.requests)}")

        await until(1)
        clock.advance(900)
        await until(2)
    kinds = [(json.loads(body)["kind"], json.loads(body)["level"], ok) for _, body, ok in receiver.requests]
    assert kinds == [("opened", 0, True), ("escalated", 1, True)]
    assert [n.status for n in sqlite_repo.notifications.list(alert_id=alert.id)] == ["sent", "sent"]
