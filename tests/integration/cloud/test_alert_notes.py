"""Officers' notes on alerts, and the escalation level and notifications an officer sees of an alert.

A note goes on the timeline and the live feed of an open or acknowledged alert, never of a resolved one, and
leaves the status and the escalation as they are. Alerts carry their escalation level (after the sweep, run
here by hand on the hub's manual clock); an alert's page lists the notifications its escalation queued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from cloud.access import Role
from cloud.app import HubServer
from cloud.escalation_service import EscalationService
from cloud.notify.settings import EscalationSettings, NotificationSettings
from cloud.processor import RawMessage
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from cloud.storage.schema import notifications
from gateway.protocol import EventType, utc_from_timestamp
from qmon.clock import ManualClock
from tests.integration.cloud.support import (
    TEST_JWT_SECRET,
    LoggedIn,
    event_message,
    fast_passwords,
    hub_http,
    seed_officer,
    seed_order,
)
from tests.integration.cloud.test_api import Api
from tests.integration.cloud.test_sse import SseReader
from tests.unit.cloud.builders import T0

HOOK = "http://hook-user:hook-pass@127.0.0.1:9/hook?token=s3cret#part"
HOOK_SHOWN = "http://127.0.0.1:9/hook"
ESCALATION = EscalationSettings.model_validate(
    {"deadlines_s": {"left_home": 900}, "reminder_interval_s": 600, "sweep_interval_s": 10}
)
NOTIFICATIONS = NotificationSettings.model_validate(
    {
        "rules": [{"types": ["left_home"], "min_severity": "low", "channels": ["webhook", "email"]}],
        "webhooks": {"ward-a": {"url": HOOK, "secret": "a-webhook-secret-that-is-long-enough"}},
        "smtp": {
            "host": "127.0.0.1",
            "from_address": "qmon@example.org",
            "recipients": {"ward-a": {0: ["an@example.org"], 1: ["sup@example.org"]}},
        },
    }
)


@pytest.fixture
async def api(sqlite_repo: Repository) -> AsyncIterator[Api]:
    """The hub in process with its own sweep off: the tests sweep by hand (see `sweeper`)."""
    seed_officer(sqlite_repo, "admin", Role.ADMIN, [])
    seed_officer(sqlite_repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(sqlite_repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    async with hub_http(sqlite_repo, escalation={"enabled": False}) as (client, app):
        yield Api(client, app.state.hub)


def open_alerts(api: Api, *events: EventType) -> list[int]:
    """The ids of the alerts that these events (default: leaving home) open on a new ward-a order."""
    seed_order(api.hub.repository)
    api.ingest(*(event_message(kind, seq) for seq, kind in enumerate(events or [EventType.LEFT_HOME], 1)))
    return [a.id for a in api.hub.repository.alerts.list(wards=None)]


def sweeper(api: Api) -> EscalationService:
    """The escalation sweep on the hub's repository, clock and live feed."""
    hub = api.hub
    return EscalationService(
        hub.repository, hub.clock, ESCALATION.to_policy(), NOTIFICATIONS, hub.alerts.publish
    )


def at_hub(api: Api, seconds: float) -> str:
    """The hub's start time plus some seconds, as the API writes it."""
    start = T0.timestamp() + 3600  # support.hub_http's clock
    return utc_from_timestamp(start + seconds).isoformat().replace("+00:00", "Z")


async def test_a_note_goes_on_the_timeline_of_an_open_then_an_acknowledged_alert(api: Api) -> None:
    (alert,) = open_alerts(api)
    path = f"/api/v1/alerts/{alert}"
    clock: ManualClock = api.hub.clock  # type: ignore[assignment]
    clock.advance(30)
    noted = await api.post(f"{path}/notes", "officer-a", json={"note": "  Called: no answer.  "})
    assert noted.status_code == 201, noted.text
    assert noted.json()["status"] == "open" and noted.json()["updated_at"] == at_hub(api, 30)
    assert (await api.post(f"{path}/acknowledge", "officer-a", json={"note": "on my way"})).status_code == 200
    clock.advance(30)
    again = await api.post(f"{path}/notes", "admin", json={"note": "Person back home at 11:05."})
    assert again.status_code == 201 and again.json()["status"] == "acknowledged"
    assert again.json()["acknowledged_by"] == "officer-a"

    detail = (await api.get(path, "officer-a")).json()
    assert [(t["kind"], t["note"]) for t in detail["timeline"]] == [
        ("opened", detail["timeline"][0]["note"]),
        ("note", "note by officer-a: Called: no answer."),
        ("acknowledged", "acknowledged by officer-a: on my way"),
        ("note", "note by admin: Person back home at 11:05."),
    ]
    assert detail["updated_at"] == at_hub(api, 60) and detail["notifications"] == []
    repo = api.hub.repository
    stored = repo.alerts.get(alert)
    assert stored is not None and stored.version == 3  # each note is a change like any other
    assert [c.kind for c in repo.alerts.changes_after(0, wards={"ward-a"})] == [
        "opened",
        "noted",
        "acknowledged",
        "noted",
    ]


async def test_ingest_keeps_updating_an_alert_after_a_note(api: Api) -> None:
    (alert,) = open_alerts(api)
    noted = await api.post(f"/api/v1/alerts/{alert}/notes", "officer-a", json={"note": "a"})
    assert noted.status_code == 201
    api.ingest(event_message(EventType.LEFT_HOME, 5))  # ingest's cached copy was dropped: no stale version
    stored = api.hub.repository.alerts.get(alert)
    assert stored is not None and (stored.event_count, stored.version) == (2, 2)


async def test_a_resolved_alert_takes_no_note(api: Api) -> None:
    (alert,) = open_alerts(api)
    path = f"/api/v1/alerts/{alert}"
    await api.post(f"{path}/acknowledge", "officer-a")
    await api.post(f"{path}/resolve", "officer-a", json={"note": "false alarm"})
    refused = await api.post(f"{path}/notes", "officer-a", json={"note": "one more thing"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"alert {alert} is resolved and a resolved alert never changes: no more notes"
    )
    timeline = (await api.get(path, "officer-a")).json()["timeline"]
    assert [t["kind"] for t in timeline] == ["opened", "acknowledged", "resolved"]


async def test_another_wards_officer_cannot_note_nor_learn_that_the_alert_exists(api: Api) -> None:
    (alert,) = open_alerts(api)
    other = await api.post(f"/api/v1/alerts/{alert}/notes", "officer-b", json={"note": "hello"})
    missing = await api.post("/api/v1/alerts/999999/notes", "officer-a", json={"note": "hello"})
    assert other.status_code == missing.status_code == 404
    assert other.json()["detail"] == f"alert {alert} not found"
    assert (await api.client.post(f"/api/v1/alerts/{alert}/notes", json={"note": "x"})).status_code == 401
    assert [t["kind"] for t in (await api.get(f"/api/v1/alerts/{alert}", "admin")).json()["timeline"]] == [
        "opened"
    ]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"note": ""},
        {"note": "   "},
        {"note": "x" * 2001},
        {"note": "ok", "by": "someone"},
        {"note": 5},
        None,
    ],
)
async def test_a_note_must_be_one_to_2000_characters_and_nothing_else(
    api: Api, body: dict[str, Any] | None
) -> None:
    (alert,) = open_alerts(api)
    response = await api.post(f"/api/v1/alerts/{alert}/notes", "officer-a", json=body)
    assert response.status_code == 422, response.text


async def test_a_note_of_2000_characters_is_kept_whole(api: Api) -> None:
    (alert,) = open_alerts(api)
    note = "ghi chú." * 250
    noted = await api.post(f"/api/v1/alerts/{alert}/notes", "officer-a", json={"note": note})
    assert noted.status_code == 201 and len(note) == 2000
    timeline = (await api.get(f"/api/v1/alerts/{alert}", "officer-a")).json()["timeline"]
    assert timeline[-1]["note"] == f"note by officer-a: {note}"


async def test_escalation_shows_on_alerts_and_a_note_neither_stops_nor_resets_it(api: Api) -> None:
    (alert,) = open_alerts(api)
    path = f"/api/v1/alerts/{alert}"
    clock: ManualClock = api.hub.clock  # type: ignore[assignment]
    fresh = (await api.get(path, "officer-a")).json()
    assert (fresh["escalation_level"], fresh["next_escalation_at"]) == (0, None)  # not swept yet

    sweep = sweeper(api)
    assert sweep.sweep() == 1  # seen: level 0 told; a reminder due in 10 minutes
    seen = (await api.get(path, "officer-a")).json()
    assert (seen["escalation_level"], seen["next_escalation_at"]) == (0, at_hub(api, 600))
    clock.advance(900)
    assert sweep.sweep() == 1  # 15 minutes unacknowledged: the ward's supervisors
    listed = (await api.get("/api/v1/alerts", "officer-a")).json()["items"]
    assert [(a["id"], a["escalation_level"], a["next_escalation_at"]) for a in listed] == [
        (alert, 1, at_hub(api, 1500))
    ]

    noted = await api.post(f"{path}/notes", "officer-a", json={"note": "Called: no answer."})
    assert (noted.json()["escalation_level"], noted.json()["next_escalation_at"]) == (1, at_hub(api, 1500))
    clock.advance(900)
    assert sweep.sweep() == 1  # the note did not hold it back: the district
    acked = await api.post(f"{path}/acknowledge", "officer-a")
    assert (acked.json()["escalation_level"], acked.json()["next_escalation_at"]) == (2, None)
    assert sweep.sweep() == 1  # the acknowledgement seen: escalation stopped, the level stays
    detail = (await api.get(path, "officer-a")).json()
    assert (detail["escalation_level"], detail["next_escalation_at"]) == (2, None)

    told = [(n["kind"], n["level"], n["channel"], n["target"]) for n in detail["notifications"]]
    assert told == [
        ("opened", 0, "webhook", HOOK_SHOWN),
        ("opened", 0, "email", "an@example.org"),
        ("escalated", 1, "webhook", HOOK_SHOWN),
        ("escalated", 1, "email", "sup@example.org"),
        ("escalated", 2, "webhook", HOOK_SHOWN),  # no e-mail recipients for level 2 in ward-a
    ]
    kinds = [t["kind"] for t in detail["timeline"]]
    assert kinds == ["opened", "escalated", "note", "escalated", "acknowledged"]


async def test_notifications_show_their_delivery_and_hide_the_webhooks_secrets(api: Api) -> None:
    (alert,) = open_alerts(api)
    repo = api.hub.repository
    now = utc_from_timestamp(api.hub.clock.now())
    rows = [
        {"alert_id": alert, "ward_id": "ward-a", "channel": channel, "target": target, "kind": "opened",
         "level": 0, "payload": {}}
        for channel, target in (("webhook", HOOK), ("email", "an@example.org"))
    ]  # fmt: skip
    with repo.write() as conn:
        repo.notifications.add(conn, rows, now)
    webhook, email = repo.notifications.list(alert_id=alert)
    outcomes = {
        webhook.id: {"status": "failed", "attempts": 5, "last_error": f"ConnectError: cannot reach {HOOK}"},
        email.id: {"status": "sent", "attempts": 1, "sent_at": now},
    }
    with repo.write() as conn:  # as the dispatcher leaves them (its own API is not what is tested here)
        for row_id, outcome in outcomes.items():
            conn.execute(sa.update(notifications).where(notifications.c.id == row_id).values(**outcome))

    shown = (await api.get(f"/api/v1/alerts/{alert}", "officer-a")).json()["notifications"]
    stamp = at_hub(api, 0)
    assert shown == [
        {
            "channel": "webhook",
            "target": HOOK_SHOWN,
            "kind": "opened",
            "level": 0,
            "status": "failed",
            "attempts": 5,
            "last_error": f"ConnectError: cannot reach {HOOK_SHOWN}",
            "created_at": stamp,
            "sent_at": None,
        },
        {
            "channel": "email",
            "target": "an@example.org",
            "kind": "opened",
            "level": 0,
            "status": "sent",
            "attempts": 1,
            "last_error": None,
            "created_at": stamp,
            "sent_at": stamp,
        },
    ]
    assert "s3cret" not in (await api.get(f"/api/v1/alerts/{alert}", "admin")).text


@contextmanager
def counting_statements(repo: Repository) -> Iterator[list[str]]:
    """The SQL statements the repository's engine runs inside the block."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(repo.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(repo.engine, "before_cursor_execute", count)


async def test_a_page_of_alerts_reads_its_escalations_in_one_query_whatever_its_size(api: Api) -> None:
    alerts = open_alerts(api, EventType.LEFT_HOME, EventType.STRAP_OPENED, EventType.FEVER)
    sweeper(api).sweep()
    await api.headers("officer-a")  # signed in before counting
    counts = []
    for limit in (1, 3):
        with counting_statements(api.hub.repository) as statements:
            page = (await api.get("/api/v1/alerts", "officer-a", params={"limit": limit})).json()
        assert len(page["items"]) == limit and {a["escalation_level"] for a in page["items"]} == {0}
        # Only the escalation reads: the hub's background tasks may query the database meanwhile.
        counts.append(sum("alert_escalations" in s for s in statements))
    assert counts == [1, 1] and sorted(a["id"] for a in page["items"]) == sorted(alerts)


@pytest.fixture
async def server(sqlite_repo: Repository) -> AsyncIterator[HubServer]:
    """The hub on a real HTTP server (an SSE stream never ends: the in-process client cannot read it)."""
    seed_officer(sqlite_repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    settings = HubSettings(
        jwt_secret=TEST_JWT_SECRET,
        http_port=0,
        auto_migrate=False,
        sse_keepalive_s=0.2,
        escalation={"enabled": False},
    )
    hub_server = HubServer(
        settings,
        repository=sqlite_repo,
        start_ingest=False,
        passwords=fast_passwords(),
        clock=ManualClock(T0.timestamp() + 3600),
    )
    async with hub_server:
        yield hub_server


async def test_notes_and_escalation_reach_the_live_feed_and_its_replay(server: HubServer) -> None:
    hub = server.hub
    assert hub.ingest is not None
    seed_order(hub.repository)
    hub.ingest.processor.process([RawMessage(*event_message(EventType.LEFT_HOME, 1))], T0)
    (alert,) = hub.repository.alerts.list(wards=None)
    escalation = EscalationService(
        hub.repository, hub.clock, ESCALATION.to_policy(), NOTIFICATIONS, hub.alerts.publish
    )
    escalation.sweep()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        auth = await LoggedIn(http).headers("officer-a")
        async with http.stream("GET", "/api/v1/alerts/stream", headers=auth) as response:
            reader = SseReader(response)
            assert (await reader.next())[":"] == "connected"
            noted = await http.post(f"/api/v1/alerts/{alert.id}/notes", headers=auth, json={"note": "on it"})
            assert noted.status_code == 201
            note_id, note = await reader.next_event()
            assert (note["kind"], note["alert"]["id"], note["alert"]["status"]) == ("noted", alert.id, "open")
            assert note["alert"]["escalation_level"] == 0 and note["alert"]["next_escalation_at"] is not None
            hub.clock.advance(900)  # type: ignore[attr-defined]
            escalation.sweep()
            up_id, up = await reader.next_event()
            assert up_id > note_id and up["kind"] == "escalated" and up["alert"]["escalation_level"] == 1
        replay = {**auth, "Last-Event-ID": "0"}
        async with http.stream("GET", "/api/v1/alerts/stream", headers=replay) as response:
            reader = SseReader(response)
            assert (await reader.next())[":"] == "connected"
            replayed = [await reader.next_event() for _ in range(3)]
    assert [(i, c["kind"]) for i, c in replayed][1:] == [(note_id, "noted"), (up_id, "escalated")]
    assert replayed[0][1]["kind"] == "opened" and replayed[2][1]["alert"]["escalation_level"] == 1
