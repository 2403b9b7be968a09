"""Escalation and reminders on stored alerts, with a manual clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cloud.access import Actor, Role
from cloud.alerts import AlertService
from cloud.escalation_service import EscalationService
from cloud.notify.settings import EscalationSettings, NotificationSettings
from cloud.storage.records import Alert, AlertChange
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import ManualClock
from tests.integration.cloud.support import PASSWORD, hub_http, seed_officer, seed_order
from tests.unit.cloud.builders import DEVICE

OFFICER = Actor("an", Role.WARD_OFFICER, frozenset({"ward-a"}))
SECRET = "a-webhook-secret-that-is-long-enough"
ESCALATION = EscalationSettings.model_validate(
    {"deadlines_s": {"left_home": 900}, "reminder_interval_s": 600, "sweep_interval_s": 10}
)
NOTIFICATIONS: dict[str, Any] = {
    "rules": [{"types": ["left_home", "tamper"], "min_severity": "high", "channels": ["webhook", "email"]}],
    "webhooks": {"ward-a": {"url": "http://127.0.0.1:9/hook", "secret": SECRET}},
    "smtp": {
        "host": "127.0.0.1",
        "from_address": "qmon@example.org",
        "recipients": {
            "ward-a": {0: ["an@example.org"], 1: ["sup@example.org"]},
            "*": {2: ["district@example.org"]},
        },
    },
}


def open_alert(
    repo: Repository,
    clock: ManualClock,
    alert_type: str = "left_home",
    severity: str = "critical",
    device_id: str = DEVICE,
) -> Alert:
    """An open alert of a new order in ward-a, opened now."""
    order = seed_order(repo, device_id=device_id, site_id=f"home-{device_id}")
    now = utc_from_timestamp(clock.now())
    fields = {
        "id": 0,
        "order_id": order.id,
        "ward_id": "ward-a",
        "device_id": order.device_id,
        "room_id": None,
        "site_id": order.site_id,
        "type": alert_type,
        "severity": severity,
        "status": "open",
        "active": True,
        "opened_at": now,
        "first_event_at": now,
        "last_event_at": now,
        "event_count": 1,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "resolved_at": None,
        "resolved_by": None,
        "resolution_note": None,
        "title": "Left home",
        "summary": "left home (RSSI -90 dBm)",
        "updated_at": now,
        "version": 0,
    }
    with repo.write() as conn:
        (alert_id,) = repo.alerts.insert(conn, [fields])
    alert = repo.alerts.get(alert_id)
    assert alert is not None
    return alert


def service(
    repo: Repository, clock: ManualClock, published: list[AlertChange] | None = None
) -> EscalationService:
    return EscalationService(
        repo,
        clock,
        ESCALATION.to_policy(),
        NotificationSettings.model_validate(NOTIFICATIONS),
        published.extend if published is not None else None,
    )


def sent(repo: Repository, alert_id: int) -> list[tuple[str, int, str, str]]:
    """(kind, level, channel, target) of the alert's notifications, in order."""
    return [(n.kind, n.level, n.channel, n.target) for n in repo.notifications.list(alert_id=alert_id)]


def test_deadlines_escalate_level_by_level_then_reminders_repeat_until_acknowledged(
    repo: Repository, clock: ManualClock
) -> None:
    alert = open_alert(repo, clock)
    published: list[AlertChange] = []
    sweeper = service(repo, clock, published)
    assert sweeper.sweep() == 1  # first seen: level 0 told
    assert sent(repo, alert.id) == [
        ("opened", 0, "webhook", "http://127.0.0.1:9/hook"),
        ("opened", 0, "email", "an@example.org"),
    ]
    clock.advance(599)
    assert sweeper.sweep() == 0
    clock.advance(1)
    assert sweeper.sweep() == 1  # a reminder to level 0 after 10 minutes
    clock.advance(299)
    assert sweeper.sweep() == 0
    clock.advance(1)
    assert sweeper.sweep() == 1  # 15 minutes unacknowledged: level 1
    assert sent(repo, alert.id)[2:] == [
        ("reminder", 0, "webhook", "http://127.0.0.1:9/hook"),
        ("reminder", 0, "email", "an@example.org"),
        ("escalated", 1, "webhook", "http://127.0.0.1:9/hook"),
        ("escalated", 1, "email", "sup@example.org"),
    ]
    state = repo.escalations.get(alert.id)
    assert state is not None and state.level == 1
    clock.advance(900)
    assert sweeper.sweep() == 1
    assert sent(repo, alert.id)[6:] == [
        ("escalated", 2, "webhook", "http://127.0.0.1:9/hook"),
        ("escalated", 2, "email", "district@example.org"),
    ]
    for _ in range(2):  # the top level: reminders only
        clock.advance(600)
        assert sweeper.sweep() == 1
    assert [n[:2] for n in sent(repo, alert.id)[8:]] == [("reminder", 2)] * 4
    assert sweeper.sweep() == 0  # nothing more due at the same instant

    AlertService(repo, clock).acknowledge(alert.id, OFFICER)
    assert sweeper.sweep() == 1  # the acknowledgement is seen: silent
    for _ in range(5):
        clock.advance(600)
        assert sweeper.sweep() == 0
    assert len(sent(repo, alert.id)) == 12

    kinds = [t.kind for t in repo.alerts.timeline(alert.id)]
    assert kinds == ["reminder", "escalated", "escalated", "reminder", "reminder", "acknowledged"]
    notes = [t.note for t in repo.alerts.timeline(alert.id)]
    assert "escalated to ward supervisors (level 1)" in notes[1] and "district (level 2)" in notes[2]
    steps = ["reminded", "escalated", "escalated", "reminded", "reminded"]
    assert [c.kind for c in published] == steps
    feed = repo.alerts.changes_after(0, wards={"ward-a"})
    assert [c.kind for c in feed] == [*steps, "acknowledged"]
    assert all(c.alert is not None and c.alert.id == alert.id for c in published)


def test_escalation_survives_a_restart_without_losing_or_repeating(
    repo: Repository, clock: ManualClock, migrated_database_url: str
) -> None:
    alert = open_alert(repo, clock)
    service(repo, clock).sweep()
    clock.advance(900)
    assert service(repo, clock).sweep() == 1  # level 1

    restarted = Repository.from_url(migrated_database_url)  # a new hub process on the same database
    try:
        again = service(restarted, clock)
        assert again.sweep() == 0  # level 1 is not repeated
        clock.advance(600)
        assert again.sweep() == 1  # the reminder due at level 1
        clock.advance(300)
        assert again.sweep() == 1  # and level 2, 15 minutes after level 1
        state = restarted.escalations.get(alert.id)
        assert state is not None and state.level == 2
    finally:
        restarted.close()
    assert [n[:2] for n in sent(repo, alert.id)] == [
        ("opened", 0),
        ("opened", 0),
        ("escalated", 1),
        ("escalated", 1),
        ("reminder", 1),
        ("reminder", 1),
        ("escalated", 2),
        ("escalated", 2),
    ]


def test_a_failed_sweep_commits_nothing_and_the_step_stays_due(
    repo: Repository, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = open_alert(repo, clock)
    sweeper = service(repo, clock)
    sweeper.sweep()
    clock.advance(900)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(repo.notifications, "add", broken)
        with pytest.raises(RuntimeError):
            sweeper.sweep()
    state = repo.escalations.get(alert.id)
    assert state is not None and state.level == 0 and len(sent(repo, alert.id)) == 2
    assert [t.kind for t in repo.alerts.timeline(alert.id)] == []
    assert sweeper.sweep() == 1 and [n[:2] for n in sent(repo, alert.id)][2:] == [("escalated", 1)] * 2


def test_low_alerts_and_resolved_ones_are_left_alone(repo: Repository, clock: ManualClock) -> None:
    low = open_alert(repo, clock, "battery_low", "low")
    sweeper = service(repo, clock)
    assert sweeper.sweep() == 1
    clock.advance(24 * 3600)
    assert sweeper.sweep() == 0
    assert sent(repo, low.id) == []  # no rule matches a low alert; no deadline either


async def test_the_hub_runs_the_sweep_and_the_timeline_shows_it(sqlite_repo: Repository) -> None:
    repo = sqlite_repo
    seed_officer(repo, "an", Role.WARD_OFFICER, ["ward-a"])
    async with hub_http(repo, escalation=ESCALATION.model_dump()) as (client, app):
        clock: ManualClock = app.state.hub.clock
        alert = open_alert(repo, clock)
        assert app.state.hub.escalation is not None and app.state.hub.notifications is not None
        for _ in range(200):
            clock.advance(10)
            await asyncio.sleep(0.02)
            state = repo.escalations.get(alert.id)
            if state is not None and state.level == 1:
                break
        else:
            raise AssertionError("the hub's sweep did not escalate")
        token = (
            await client.post("/api/v1/auth/token", data={"username": "an", "password": PASSWORD})
        ).json()["access_token"]
        detail = (
            await client.get(f"/api/v1/alerts/{alert.id}", headers={"Authorization": f"Bearer {token}"})
        ).json()
        assert [t["kind"] for t in detail["timeline"]][-1] == "escalated"
        assert "ward supervisors (level 1)" in detail["timeline"][-1]["note"]
