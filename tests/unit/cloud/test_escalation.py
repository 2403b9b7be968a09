"""Escalation policy, notification routing, webhook signatures and the retry schedule (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from cloud.escalation import AlertFacts, EscalationPolicy, EscalationState, EscalationStep, plan_escalation
from cloud.notify.backoff import retry_delay_s
from cloud.notify.routing import AlertSummary, build_payload, channels_for, email_body, email_subject, route
from cloud.notify.settings import EscalationSettings, NotificationSettings, WebhookTarget
from cloud.notify.signing import sign, signature_headers, verify
from tests.unit.cloud.builders import T0

SECRET = "a-webhook-secret-that-is-long-enough"
POLICY = EscalationPolicy(
    type_deadlines_s={"left_home": 900.0}, severity_deadlines_s={"high": 1800.0}, reminder_interval_s=600.0
)


def facts(status: str = "open", **overrides: object) -> AlertFacts:
    values: dict[str, object] = {
        "id": 7,
        "type": "left_home",
        "severity": "critical",
        "status": status,
        "opened_at": T0,
        "acknowledged_at": None,
    }
    values.update(overrides)
    return AlertFacts(**values)  # type: ignore[arg-type]


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def walk(
    alert: AlertFacts, policy: EscalationPolicy, until_min: float, every_s: float = 10
) -> list[tuple[float, str, int]]:
    """Sweep every `every_s` from T0 and collect (minute, kind, level) of each step."""
    state: EscalationState | None = None
    steps: list[tuple[float, str, int]] = []
    t = 0.0
    while t <= until_min * 60:
        step = plan_escalation(alert, state, policy, T0 + timedelta(seconds=t))
        if step is not None:
            state = step.state
            steps.append((t / 60, step.kind, step.level))
        t += every_s
    return steps


def test_an_open_alert_escalates_each_deadline_and_reminds_in_between() -> None:
    steps = walk(facts(), POLICY, 50)
    assert steps == [
        (0, "opened", 0),
        (10, "reminder", 0),
        (15, "escalated", 1),
        (25, "reminder", 1),
        (30, "escalated", 2),
        (40, "reminder", 2),
        (50, "reminder", 2),
    ]


def test_a_type_without_deadline_uses_its_severity_and_low_never_escalates() -> None:
    assert POLICY.deadline_s("fever", "high") == 1800.0
    assert [s[1:] for s in walk(facts(type="fever", severity="high"), POLICY, 31)][:3] == [
        ("opened", 0),
        ("reminder", 0),
        ("reminder", 0),
    ]
    assert walk(facts(type="battery_low", severity="low"), POLICY, 120) == [(0, "opened", 0)]


def test_acknowledging_stops_escalation_and_reminders() -> None:
    opened = plan_escalation(facts(), None, POLICY, T0)
    assert opened is not None and opened.state.next_at == minutes(10)
    acked = facts("acknowledged", acknowledged_at=minutes(3))
    step = plan_escalation(acked, opened.state, POLICY, minutes(3))
    assert step is not None and step.kind == "state" and not step.notifies and step.state.next_at is None
    assert plan_escalation(acked, step.state, POLICY, minutes(300)) is None


def test_an_alert_acknowledged_before_the_first_sweep_is_not_announced() -> None:
    step = plan_escalation(facts("acknowledged", acknowledged_at=minutes(0.1)), None, POLICY, minutes(0.2))
    assert step is not None and step.kind == "state" and not step.notifies
    assert step.state.seen_status == "acknowledged" and step.state.next_at is None


def test_acknowledged_alerts_get_slower_reminders_when_configured() -> None:
    policy = replace(POLICY, acknowledged_reminder_interval_s=3600.0)
    opened = plan_escalation(facts(), None, policy, T0)
    assert opened is not None
    acked = facts("acknowledged", acknowledged_at=minutes(3))
    quiet = plan_escalation(acked, opened.state, policy, minutes(3))
    assert quiet is not None and quiet.state.next_at == minutes(63)
    assert plan_escalation(acked, quiet.state, policy, minutes(62)) is None
    reminder = plan_escalation(acked, quiet.state, policy, minutes(63))
    assert reminder is not None and (reminder.kind, reminder.level) == ("reminder", 0)
    assert reminder.state.next_at == minutes(123)


def test_a_reopened_alert_restarts_its_level_clock_with_a_reminder() -> None:
    state = EscalationState(1, minutes(15), minutes(15), None, "acknowledged")
    step = plan_escalation(facts(), state, POLICY, minutes(40))
    assert step is not None and (step.kind, step.level) == ("reminder", 1)
    assert step.state.seen_status == "open" and step.state.next_at == minutes(50)
    assert "reopened" in step.note


def test_after_a_long_outage_one_step_is_taken_per_sweep() -> None:
    opened = plan_escalation(facts(), None, POLICY, T0)
    assert opened is not None
    late = plan_escalation(facts(), opened.state, POLICY, minutes(120))
    assert late is not None and (late.kind, late.level) == ("escalated", 1)
    assert late.state.next_at == minutes(130)  # the next level gets its own reminder interval, no burst


def test_resolved_alerts_take_no_step() -> None:
    state = EscalationState(0, T0, T0, minutes(1), "open")
    assert plan_escalation(facts("resolved"), state, POLICY, minutes(60)) is None


def test_escalation_settings_build_the_policy() -> None:
    policy = EscalationSettings.model_validate(
        {"deadlines_s": {"tamper": 300}, "severity_deadlines_s": {"high": 60}, "reminder_interval_s": None}
    ).to_policy()
    assert policy.deadline_s("tamper", "critical") == 300 and policy.deadline_s("fever", "high") == 60
    assert policy.deadline_s("battery_low", "low") is None and policy.reminder_interval_s is None
    with pytest.raises(ValueError, match="positive"):
        EscalationSettings.model_validate({"deadlines_s": {"tamper": 0}})


def summary(**overrides: object) -> AlertSummary:
    values: dict[str, object] = {
        "id": 7,
        "type": "left_home",
        "severity": "critical",
        "status": "open",
        "ward_id": "ward-a",
        "site_id": "home-0001",
        "title": "Left home",
        "summary": "left home (RSSI -90 dBm)",
        "opened_at": T0,
        "last_event_at": T0,
    }
    values.update(overrides)
    return AlertSummary(**values)  # type: ignore[arg-type]


def notification_settings(**overrides: object) -> NotificationSettings:
    values: dict[str, object] = {
        "rules": [
            {"types": ["left_home", "tamper"], "min_severity": "high", "channels": ["webhook", "email"]},
            {"min_severity": "medium", "channels": ["email"], "levels": [1, 2], "reminders": False},
        ],
        "webhooks": {"ward-a": {"url": "http://127.0.0.1:9/hook", "secret": SECRET}},
        "smtp": {
            "host": "127.0.0.1",
            "from_address": "qmon@example.org",
            "recipients": {
                "ward-a": {0: ["an@example.org"], 1: ["sup@example.org"]},
                "*": {1: ["nobody@example.org"], 2: ["district@example.org"]},
            },
        },
    }
    values.update(overrides)
    return NotificationSettings.model_validate(values)


def test_rules_pick_channels_by_type_severity_level_and_kind() -> None:
    settings = notification_settings()
    assert channels_for(summary(), "escalated", 1, settings) == ["webhook", "email"]
    assert channels_for(summary(type="fever", severity="high"), "escalated", 1, settings) == ["email"]
    assert channels_for(summary(type="fever", severity="high"), "reminder", 1, settings) == []
    assert channels_for(summary(type="fever", severity="high"), "opened", 0, settings) == []
    assert channels_for(summary(type="battery_low", severity="low"), "escalated", 2, settings) == []


def test_targets_come_from_the_ward_then_the_wildcard() -> None:
    settings = notification_settings()
    by_level = {
        level: {o.channel: o.target for o in route(summary(), "escalated", level, T0, settings)}
        for level in range(3)
    }
    assert by_level[0] == {"webhook": "http://127.0.0.1:9/hook", "email": "an@example.org"}
    assert by_level[1]["email"] == "sup@example.org"  # the ward's own list wins over '*'
    assert by_level[2]["email"] == "district@example.org"
    assert route(summary(ward_id="ward-z"), "escalated", 0, T0, settings) == []  # nothing configured


def test_the_payload_names_the_alert_but_no_person() -> None:
    payload = build_payload(summary(), "escalated", 1, T0)
    assert payload["alert_id"] == 7 and payload["level"] == 1 and payload["level_name"] == "ward supervisors"
    assert set(payload) == {
        *("version", "kind", "alert_id", "type", "severity", "status", "ward", "site", "title", "summary"),
        *("level", "level_name", "opened_at", "last_event_at", "time"),
    }
    assert email_subject(payload) == "[qmon ward-a] ESCALATED: Left home (critical, level 1) #7"
    body = email_body(payload, "https://qmon.example.org/")
    assert "Level:      1 (ward supervisors)" in body and "https://qmon.example.org/alerts/7" in body


def test_webhook_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"alert_id":7}'
    headers = signature_headers(SECRET.encode(), 1_800_000_000, body)
    expected = hmac.new(SECRET.encode(), b"1800000000." + body, hashlib.sha256).hexdigest()
    assert headers == {"X-Qmon-Timestamp": "1800000000", "X-Qmon-Signature": "sha256=" + expected}
    assert verify(SECRET.encode(), "1800000000", headers["X-Qmon-Signature"], body, now=1_800_000_100)
    assert not verify(
        SECRET.encode(), "1800000000", headers["X-Qmon-Signature"], b'{"alert_id":8}', 1_800_000_000
    )
    assert not verify(b"another-key", "1800000000", headers["X-Qmon-Signature"], body, 1_800_000_000)
    assert not verify(SECRET.encode(), "1800000000", headers["X-Qmon-Signature"], body, now=1_800_001_000)
    assert sign(SECRET.encode(), 1, body) != sign(SECRET.encode(), 2, body)


def test_webhook_secrets_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        WebhookTarget.model_validate({"url": "https://gw.example.org", "secret": "short"})
    with pytest.raises(ValueError, match="exactly one"):
        WebhookTarget.model_validate({"url": "https://gw.example.org"})


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [retry_delay_s(n, 5, 60) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_step_flags() -> None:
    state = EscalationState(0, T0, T0, None, "open")
    assert EscalationStep("escalated", 1, state, "").recorded
    assert not EscalationStep("opened", 0, state, "").recorded
    assert not EscalationStep("state", 0, state, "").notifies
