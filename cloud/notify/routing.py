"""Which channels and targets an escalation step reaches, and what it says (pure).

The payload carries what the officer needs to find the alert in the console and no personal data: no
name, phone number or address of the quarantined person (the console shows those to signed-in officers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloud.escalation import level_name
from cloud.notify.settings import ANY_WARD, NotificationSettings
from cloud.rules import SEVERITY_RANK, Severity

_RANK = {severity.value: rank for severity, rank in SEVERITY_RANK.items()}


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """The parts of an alert a notification tells."""

    id: int
    type: str
    severity: str
    status: str
    ward_id: str
    site_id: str
    title: str
    summary: str
    opened_at: datetime
    last_event_at: datetime


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One notification to write to the outbox."""

    channel: str
    target: str
    payload: dict[str, Any]


def channels_for(alert: AlertSummary, kind: str, level: int, settings: NotificationSettings) -> list[str]:
    """The channels the rules fire for this alert and step (each at most once, in a stable order)."""
    rank = _RANK.get(alert.severity, 0)
    chosen: list[str] = []
    for rule in settings.rules:
        if rule.types is not None and alert.type not in rule.types:
            continue
        if rank < SEVERITY_RANK[Severity(rule.min_severity)] or level not in rule.levels:
            continue
        if kind == "reminder" and not rule.reminders:
            continue
        chosen.extend(c for c in rule.channels if c not in chosen)
    return chosen


def email_recipients(recipients: Mapping[str, Mapping[int, list[str]]], ward: str, level: int) -> list[str]:
    """The addresses for a ward and level: the ward's own list for that level, else the '*' one."""
    own = recipients.get(ward, {})
    if level in own:
        return list(own[level])
    return list(recipients.get(ANY_WARD, {}).get(level, []))


def route(
    alert: AlertSummary, kind: str, level: int, time: datetime, settings: NotificationSettings
) -> list[Outgoing]:
    """The notifications of one step; a channel with no target configured for the ward is skipped."""
    payload = build_payload(alert, kind, level, time)
    out: list[Outgoing] = []
    for channel in channels_for(alert, kind, level, settings):
        if channel == "webhook":
            hook = settings.webhooks.get(alert.ward_id) or settings.webhooks.get(ANY_WARD)
            if hook is not None:
                out.append(Outgoing("webhook", hook.url, payload))
        elif channel == "email" and settings.smtp is not None:
            to = email_recipients(settings.smtp.recipients, alert.ward_id, level)
            if to:
                out.append(Outgoing("email", ", ".join(to), payload))
    return out


def build_payload(alert: AlertSummary, kind: str, level: int, time: datetime) -> dict[str, Any]:
    """The JSON body of a notification (also the source of the e-mail text)."""
    return {
        "version": 1,
        "kind": kind,
        "alert_id": alert.id,
        "type": alert.type,
        "severity": alert.severity,
        "status": alert.status,
        "ward": alert.ward_id,
        "site": alert.site_id,
        "title": alert.title,
        "summary": alert.summary,
        "level": level,
        "level_name": level_name(level),
        "opened_at": alert.opened_at.isoformat(),
        "last_event_at": alert.last_event_at.isoformat(),
        "time": time.isoformat(),
    }


def email_subject(payload: Mapping[str, Any]) -> str:
    """The subject line of a notification e-mail."""
    what = {"opened": "New alert", "escalated": "ESCALATED", "reminder": "Reminder"}.get(payload["kind"], "")
    return (
        f"[qmon {payload['ward']}] {what}: {payload['title']} "
        f"({payload['severity']}, level {payload['level']}) #{payload['alert_id']}"
    )


def email_body(payload: Mapping[str, Any], console_url: str | None = None) -> str:
    """The plain-text body of a notification e-mail."""
    lines = [
        f"{payload['title']} - {payload['summary']}",
        "",
        f"Alert:      #{payload['alert_id']} ({payload['type']}, {payload['severity']})",
        f"Ward:       {payload['ward']} (site {payload['site']})",
        f"Status:     {payload['status']}",
        f"Level:      {payload['level']} ({payload['level_name']})",
        f"Opened at:  {payload['opened_at']}",
        f"Last event: {payload['last_event_at']}",
        f"Sent for:   {payload['kind']} at {payload['time']}",
    ]
    if console_url:
        lines += ["", f"Open it: {console_url.rstrip('/')}/alerts/{payload['alert_id']}"]
    lines += ["", "Acknowledge the alert in the qmon console to stop reminders and escalation."]
    return "\n".join(lines) + "\n"
