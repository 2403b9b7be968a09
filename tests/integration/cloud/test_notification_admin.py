"""The notifications outbox through the REST API, on SQLite and PostgreSQL: administrators list it by status
and ward and send failed notifications again; officers read their wards' rows; other roles are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from cloud.access import Role
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.outbox import display_target
from cloud.storage.repository import Repository
from cloud.storage.schema import alerts, notifications
from qmon.clock import ManualClock
from tests.integration.cloud.support import LoggedIn, hub_http, seed_officer
from tests.integration.cloud.test_citizens import IDENTITY_KEY, registration
from tests.integration.cloud.test_escalation import open_alert
from tests.integration.cloud.test_notification_claims import Recording
from tests.unit.cloud.builders import T0

HUB_NOW = T0 + timedelta(hours=1)  # the clock of hub_http's app
SECRET_URL = "https://gateway:p4ssw0rd@sms.example.org/hooks/T0KEN0123456789abcdef?sig=s3cret#part"
SHOWN_URL = "https://sms.example.org/hooks/***"


def seed_notification(
    repo: Repository,
    alert_id: int,
    *,
    ward: str = "ward-a",
    status: str = "failed",
    channel: str = "webhook",
    target: str = SECRET_URL,
    attempts: int = 8,
    error: str | None = None,
) -> int:
    """One outbox row in the given state; its id."""
    now = T0
    with repo.write() as conn:
        repo.notifications.add(
            conn,
            [
                {
                    "alert_id": alert_id,
                    "ward_id": ward,
                    "channel": channel,
                    "target": target,
                    "kind": "opened",
                    "level": 0,
                    "payload": {"alert_id": alert_id, "secret_looking": "payload"},
                }
            ],
            now,
        )
        row_id: int = conn.execute(sa.select(sa.func.max(notifications.c.id))).scalar_one()
        conn.execute(
            sa.update(notifications)
            .where(notifications.c.id == row_id)
            .values(
                status=status,
                attempts=0 if status == "pending" else attempts,
                # A pending row waits for its retry, not due for any dispatcher during the test.
                next_attempt_at=now + timedelta(days=2) if status == "pending" else None,
                sent_at=now if status == "sent" else None,
                last_error=error
                if error is not None
                else (f"ConnectError: {target}" if status != "sent" else None),
            )
        )
    return row_id


class Api(LoggedIn):
    """An HTTP client on the hub that signs each user in once."""

    async def ids(self, as_: str, query: str = "") -> list[int]:
        response = await self.get(f"/api/v1/notifications{query}", as_)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def outbox(repo: Repository) -> dict[str, int]:
    """Rows in ward-a (failed webhook, failed e-mail, pending, sent) and ward-b (failed), oldest first."""
    clock = ManualClock(T0.timestamp())
    alert_a = open_alert(repo, clock)
    alert_b = open_alert(repo, clock, device_id="0000000b")
    with repo.write() as conn:
        conn.execute(sa.update(alerts).where(alerts.c.id == alert_b.id).values(ward_id="ward-b"))
    return {
        "failed": seed_notification(repo, alert_a.id),
        "email": seed_notification(
            repo, alert_a.id, channel="email", target="an@example.org", error="SMTP 550: 'no such user'"
        ),
        "pending": seed_notification(repo, alert_a.id, status="pending"),
        "sent": seed_notification(repo, alert_a.id, status="sent"),
        "ward_b": seed_notification(repo, alert_b.id, ward="ward-b"),
    }


@pytest.fixture
async def api(repo: Repository) -> AsyncIterator[Api]:
    seed_officer(repo, "admin", Role.ADMIN, [])
    seed_officer(repo, "sup-a", Role.SUPERVISOR, ["ward-a"])
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(repo, "lab-a", Role.LAB, ["ward-a"])
    async with hub_http(repo, identity_hash_key=IDENTITY_KEY) as (client, _app):
        stop_hub_dispatcher()
        yield Api(client)


def stop_hub_dispatcher() -> None:
    """Stop the hub's own dispatcher (it has no channel here and would fail a retried row): tests that need
    one dispatch themselves."""
    for task in asyncio.all_tasks():
        if task.get_name() == "qmon-hub-notifications":
            task.cancel()


async def test_an_admin_lists_every_ward_newest_first_with_filters_and_pages(
    api: Api, outbox: dict[str, int]
) -> None:
    everything = await api.ids("admin")
    assert everything == sorted(outbox.values(), reverse=True)
    assert await api.ids("admin", "?status=failed") == [outbox["ward_b"], outbox["email"], outbox["failed"]]
    assert await api.ids("admin", "?status=pending") == [outbox["pending"]]
    assert await api.ids("admin", "?status=sent") == [outbox["sent"]]
    assert await api.ids("admin", "?status=failed&ward=ward-b") == [outbox["ward_b"]]
    assert await api.ids("admin", "?ward=ward-z") == []
    first = (await api.get("/api/v1/notifications?limit=2", "admin")).json()
    assert [i["id"] for i in first["items"]] == everything[:2] and first["next_offset"] == 2
    last = (await api.get("/api/v1/notifications?limit=2&offset=4", "admin")).json()
    assert [i["id"] for i in last["items"]] == everything[4:] and last["next_offset"] is None


async def test_targets_are_shown_without_credentials_query_or_tokens_and_never_a_secret(
    api: Api, outbox: dict[str, int]
) -> None:
    response = await api.get("/api/v1/notifications?status=failed&ward=ward-a", "admin")
    webhook, email = sorted(response.json()["items"], key=lambda item: item["channel"], reverse=True)
    assert (webhook["id"], webhook["channel"], webhook["target"]) == (outbox["failed"], "webhook", SHOWN_URL)
    assert webhook["last_error"] == f"ConnectError: {SHOWN_URL}"
    assert (webhook["status"], webhook["attempts"], webhook["kind"], webhook["level"]) == (
        "failed",
        8,
        "opened",
        0,
    )
    assert (email["target"], email["last_error"]) == ("an@example.org", "SMTP 550: 'no such user'")
    assert "payload" not in webhook
    for secret in ("p4ssw0rd", "gateway:", "s3cret", "T0KEN0123456789abcdef", "#part", "secret_looking"):
        assert secret not in response.text


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"),
        ("https://u@[::1]:9/a/b?x=1", "https://[::1]:9/a/b"),
        (
            "https://api.telegram.org/bot123456:ABCdefGHIjklMNOpqr/sendMessage",
            "https://api.telegram.org/***/sendMessage",
        ),
        ("http://[::1/broken", "***"),
    ],
)
def test_display_target(target: str, shown: str) -> None:
    assert display_target("webhook", target) == shown
    assert display_target("email", "an@example.org, binh@example.org") == "an@example.org, binh@example.org"


async def test_an_admin_retries_a_failed_notification_and_the_dispatcher_sends_it(
    api: Api, outbox: dict[str, int], repo: Repository
) -> None:
    response = await api.post(f"/api/v1/notifications/{outbox['failed']}/retry", "admin")
    assert response.status_code == 200, response.text
    retried = response.json()
    assert (retried["status"], retried["attempts"], retried["sent_at"]) == ("pending", 0, None)
    assert retried["next_attempt_at"] == HUB_NOW.isoformat().replace("+00:00", "Z")
    assert retried["target"] == SHOWN_URL and retried["last_error"] == f"ConnectError: {SHOWN_URL}"
    assert await api.ids("admin", "?status=pending") == [outbox["pending"], outbox["failed"]]
    # Not failed (any more): 409; unknown: 404.
    for key in ("failed", "pending", "sent"):
        again = await api.post(f"/api/v1/notifications/{outbox[key]}/retry", "admin")
        assert again.status_code == 409 and "not failed" in again.json()["detail"], again.text
    assert (await api.post("/api/v1/notifications/999999/retry", "admin")).status_code == 404
    # The dispatcher picks the row up at once.
    notifier = Recording()
    dispatcher = Dispatcher(repo, ManualClock(HUB_NOW.timestamp()), {"webhook": notifier})
    assert await dispatcher.dispatch_once() == 1
    assert notifier.delivered == [outbox["failed"]]
    (row,) = [r for r in repo.notifications.list() if r.id == outbox["failed"]]
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


async def test_officers_read_their_wards_notifications_and_may_not_retry(
    api: Api, outbox: dict[str, int]
) -> None:
    ward_a = sorted((v for k, v in outbox.items() if k != "ward_b"), reverse=True)
    assert await api.ids("officer-a") == ward_a
    assert await api.ids("sup-a", "?status=failed") == [outbox["email"], outbox["failed"]]
    assert await api.ids("officer-a", "?ward=ward-b") == []  # another ward's rows are not acknowledged
    for user in ("officer-a", "sup-a"):
        refused = await api.post(f"/api/v1/notifications/{outbox['failed']}/retry", user)
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]


async def test_other_roles_citizens_and_anonymous_callers_are_refused(
    api: Api, outbox: dict[str, int]
) -> None:
    handle = (await api.client.post("/api/v1/citizens/register", json=registration())).json()["handle"]
    for user in ("lab-a", handle):
        assert (await api.get("/api/v1/notifications", user)).status_code == 403
        assert (await api.post(f"/api/v1/notifications/{outbox['failed']}/retry", user)).status_code == 403
    assert (await api.client.get("/api/v1/notifications")).status_code == 401
    assert (await api.client.post(f"/api/v1/notifications/{outbox['failed']}/retry")).status_code == 401


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("?status=lost", "status", "'pending', 'sent' or 'failed'"),
        ("?limit=0", "limit", "greater than or equal to 1"),
        ("?limit=1000", "limit", "less than or equal to 200"),
        ("?offset=-1", "offset", "greater than or equal to 0"),
        ("?ward=", "ward", "at least 1 character"),
        ("?limit=ten", "limit", "valid integer"),
    ],
)
async def test_bad_query_parameters_are_refused_with_a_clear_message(
    api: Api, query: str, field: str, message: str
) -> None:
    response = await api.get(f"/api/v1/notifications{query}", "admin")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", field] and message in error["msg"], error


async def test_a_bad_notification_id_is_refused(api: Api) -> None:
    assert (await api.post("/api/v1/notifications/0/retry", "admin")).status_code == 422
    assert (await api.post("/api/v1/notifications/abc/retry", "admin")).status_code == 422
    assert (await api.get("/api/v1/notifications/1/retry", "admin")).status_code == 405
