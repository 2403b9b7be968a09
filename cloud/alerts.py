"""The alert lifecycle: one alert per incident, open -> acknowledged -> resolved, every change logged.

`plan_step` (pure) decides what one rule action does to an order's current alert of that type. `AlertBatch`
applies many actions inside one ingest transaction with a constant number of statements. `AlertService`
adds the officers' transitions and notes and publishes every committed change to the live feed.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from cloud.access import Actor
from cloud.errors import ConflictError, NotFoundError
from cloud.escalation import EscalationState
from cloud.rules import SEVERITY_RANK, AlertAction, OrderContext, Severity
from cloud.storage.escalations import StoredNotification
from cloud.storage.records import Alert, AlertChange, TimelineEntry
from cloud.storage.repository import Repository
from gateway.protocol import utc_from_timestamp
from qmon.clock import Clock

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
NOTE = "note"  # an officer's note: a timeline entry that leaves the status (and the escalation) as it is
# The change-log kind of each officer action, as the live feed reports it.
_ACTION_CHANGES = {ACKNOWLEDGED: "acknowledged", RESOLVED: "resolved", NOTE: "noted"}
# When several changes hit one alert in one batch, the feed reports the most telling one.
_CHANGE_PRIORITY = {"opened": 3, "reopened": 2, "cleared": 1, "updated": 0}

Publish = Callable[[Sequence[AlertChange]], None]
AlertFields = dict[str, Any]  # an alert's columns; plain dicts keep ingest's per-event work small
OpenAlerts = dict[int, dict[str, AlertFields]]  # order id -> alert type -> its open or acknowledged alert


@dataclass(frozen=True, slots=True)
class Step:
    """What one action does to an alert: fields to set, a timeline entry, and the change-log kind."""

    changes: dict[str, Any]
    timeline_kind: str
    note: str
    change: str


def plan_step(
    current: Mapping[str, Any] | None,
    action: AlertAction,
    order: OrderContext,
    event_time: datetime,
    now: datetime,
) -> Step | None:
    """Apply one rule action to the order's open/acknowledged alert of its type (`current`, None if none)."""
    if current is None:
        if not action.onset:
            return None  # a clearance with nothing open: the condition state alone records it
        fields = {
            "id": 0,
            "order_id": order.order_id,
            "ward_id": order.ward_id,
            "device_id": order.device_id,
            "room_id": order.room_id,
            "site_id": order.site_id,
            "type": action.alert_type.value,
            "severity": action.severity.value,
            "status": OPEN,
            "active": action.active,
            "opened_at": now,
            "first_event_at": event_time,
            "last_event_at": event_time,
            "event_count": 1,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "resolved_at": None,
            "resolved_by": None,
            "resolution_note": None,
            "title": action.title,
            "summary": action.summary,
            "updated_at": now,
            "version": 0,
        }
        note = action.summary if action.active else f"{action.summary}; condition already cleared"
        return Step(fields, "opened", note, "opened")
    changes: dict[str, Any] = {
        "event_count": current["event_count"] + 1,
        "first_event_at": min(current["first_event_at"], event_time),
        "last_event_at": max(current["last_event_at"], event_time),
        "severity": _max_severity(current["severity"], action.severity),
        "active": action.active,
        "updated_at": now,
    }
    if action.late:
        return Step(changes, "late", action.summary, "updated")
    if action.onset:
        changes["summary"] = action.summary
        if current["status"] == ACKNOWLEDGED and not current["active"] and action.active:
            # The condition had cleared and came back: the officer must look again.
            changes.update(status=OPEN, acknowledged_at=None, acknowledged_by=None)
            return Step(changes, "reopened", action.summary, "reopened")
        kind = "recurred" if action.active and not current["active"] else "repeated"
        return Step(changes, kind, action.summary, "updated")
    if current["active"] and not action.active:
        return Step(changes, "cleared", action.summary, "cleared")
    return Step(changes, "event", action.summary, "updated")


# Ranks by the stored string: an alert's severity is a column value, and Severity(value) per event is costly.
_RANK_OF_VALUE = {severity.value: rank for severity, rank in SEVERITY_RANK.items()}


def _max_severity(current: str, new: Severity) -> str:
    return new.value if SEVERITY_RANK[new] > _RANK_OF_VALUE[current] else current


@dataclass(slots=True)
class _Draft:
    fields: dict[str, Any]
    is_new: bool
    kinds: list[str] = field(default_factory=list)
    timeline: list[tuple[str | None, str, datetime, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Counts of one batch, its changes to publish after commit, and the orders' open alerts after it."""

    opened: int
    updated: int
    changes: list[AlertChange]
    open_alerts: OpenAlerts = field(default_factory=dict)


class AlertBatch:
    """Collects rule actions of one ingest batch and writes them with a handful of statements."""

    def __init__(
        self, repository: Repository, conn: Connection, now: datetime, load: Callable[[set[int]], OpenAlerts]
    ) -> None:
        self._repo = repository
        self._conn = conn
        self._now = now
        self._load = load
        self._drafts: dict[tuple[int, str], _Draft] = {}
        self._open: OpenAlerts = {}

    def preload(self, order_ids: Iterable[int]) -> None:
        """Fetch the open alerts of these orders (from ingest's cache or one query)."""
        missing = {i for i in order_ids if i not in self._open}
        if missing:
            loaded = self._load(missing)
            for order_id in missing:
                # A copy: the loader's dicts may be ingest's cache, which must only see committed state.
                self._open[order_id] = dict(loaded.get(order_id, {}))

    def add(
        self, order: OrderContext, action: AlertAction, event_id: str | None, event_time: datetime
    ) -> None:
        """Apply one action, in arrival order."""
        if order.order_id not in self._open:
            self.preload((order.order_id,))
        key = (order.order_id, action.alert_type.value)
        draft = self._drafts.get(key)
        current = self._open[order.order_id].get(key[1]) if draft is None else draft.fields
        step = plan_step(current, action, order, event_time, self._now)
        if step is None:
            return
        if draft is None:
            draft = self._drafts[key] = _Draft(
                dict(current) if current is not None else {}, is_new=current is None
            )
        draft.fields.update(step.changes)
        draft.kinds.append(step.change)
        draft.timeline.append((event_id, step.timeline_kind, event_time, step.note))

    def flush(self) -> BatchResult:
        """Insert new alerts, update changed ones, append timelines and change-log entries."""
        drafts = list(self._drafts.values())
        new = [d.fields for d in drafts if d.is_new]
        changed = [d.fields for d in drafts if not d.is_new]
        for fields, alert_id in zip(new, self._repo.alerts.insert(self._conn, new), strict=True):
            fields["id"] = alert_id
        for fields in changed:
            fields["version"] += 1
        self._repo.alerts.update(self._conn, changed)
        self._repo.alerts.add_timeline(
            self._conn,
            [
                {"alert_id": d.fields["id"], "event_id": e, "kind": k, "time": t, "note": n}
                for d in drafts
                for e, k, t, n in d.timeline
            ],
        )
        kinds = ["opened" if d.is_new else max(d.kinds, key=_CHANGE_PRIORITY.__getitem__) for d in drafts]
        alerts = [Alert(**d.fields) for d in drafts]
        changes = log_changes(self._repo, self._conn, list(zip(alerts, kinds, strict=True)), self._now)
        for draft in drafts:
            self._open[draft.fields["order_id"]][draft.fields["type"]] = draft.fields
        return BatchResult(len(new), len(changed), changes, self._open)


def log_changes(
    repo: Repository, conn: Connection, items: Sequence[tuple[Alert, str]], now: datetime
) -> list[AlertChange]:
    """Append one change-log entry per (alert, kind); the entries carry the alert for the live feed."""
    rows = [{"alert_id": a.id, "ward_id": a.ward_id, "kind": k, "time": now} for a, k in items]
    ids = repo.alerts.append_changes(conn, rows)
    # The feed shows each alert's escalation too; an alert opened by this change has none yet.
    states = repo.escalations.states([a.id for a, k in items if k != "opened"], conn=conn)
    return [
        AlertChange(i, a.id, a.ward_id, k, now, a, states.get(a.id))
        for i, (a, k) in zip(ids, items, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with its escalation state (None: not seen by the escalation sweep yet)."""

    alert: Alert
    escalation: EscalationState | None


@dataclass(frozen=True, slots=True)
class AlertCase:
    """Everything an alert's page shows: the alert, its escalation, its timeline and who was notified."""

    alert: Alert
    escalation: EscalationState | None
    timeline: builtins.list[TimelineEntry]
    notifications: builtins.list[StoredNotification]


class AlertService:
    """Officers' view and handling of alerts, scoped to their wards; changes go to the live feed."""

    def __init__(self, repository: Repository, clock: Clock, publish: Publish | None = None) -> None:
        self._repo = repository
        self._clock = clock
        self._publish = publish
        self._listeners: builtins.list[Callable[[int], None]] = []

    def on_transition(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call `callback(order_id)` after an officer changed an alert of that order; returns unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def publish(self, changes: Sequence[AlertChange]) -> None:
        """Hand committed changes to the live feed."""
        if changes and self._publish is not None:
            self._publish(changes)

    def batch(self, conn: Connection, load: Callable[[set[int]], OpenAlerts] | None = None) -> AlertBatch:
        """A batch of rule actions inside the caller's transaction (`load` fetches orders' open alerts)."""
        return AlertBatch(self._repo, conn, self._now(), load or (lambda ids: self.load_open(conn, ids)))

    def load_open(self, conn: Connection, order_ids: set[int]) -> OpenAlerts:
        """The open or acknowledged alerts of these orders, by order and type."""
        found: OpenAlerts = {}
        for alert in self._repo.alerts.load_open(conn, order_ids):
            found.setdefault(alert.order_id, {})[alert.type] = alert.as_dict()
        return found

    def get(self, alert_id: int, actor: Actor) -> AlertCase:
        """One alert of the actor's wards with its escalation, timeline and notifications."""
        with self._repo.read() as conn:
            alert = self._repo.alerts.get(alert_id, conn=conn)
            if alert is None or not actor.sees(alert.ward_id):
                raise NotFoundError(f"alert {alert_id} not found")
            return AlertCase(
                alert,
                self._repo.escalations.get(alert_id, conn=conn),
                self._repo.alerts.timeline(alert_id, conn=conn),
                self._repo.notifications.list(alert_id=alert_id, conn=conn),
            )

    def list(
        self,
        actor: Actor,
        *,
        ward: str | None = None,
        status: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[AlertView]:
        """Alerts of the actor's wards (or of one of them), newest first, with their escalation states."""
        wards = actor.ward_filter
        if ward is not None:
            wards = frozenset({ward}) if actor.sees(ward) else frozenset()
        with self._repo.read() as conn:
            found = self._repo.alerts.list(
                wards=wards, status=status, type=type, since=since, limit=limit, offset=offset, conn=conn
            )
            states = self._repo.escalations.states([a.id for a in found], conn=conn)
        return [AlertView(a, states.get(a.id)) for a in found]

    def acknowledge(self, alert_id: int, actor: Actor, note: str | None = None) -> AlertView:
        """open -> acknowledged: an officer has taken the alert on (which stops its escalation)."""
        return self._act(alert_id, actor, ACKNOWLEDGED, note)

    def resolve(self, alert_id: int, actor: Actor, note: str) -> AlertView:
        """acknowledged -> resolved, with the officer's resolution note; a resolved alert never changes."""
        return self._act(alert_id, actor, RESOLVED, note)

    def add_note(self, alert_id: int, actor: Actor, note: str) -> AlertView:
        """Note something on an open or acknowledged alert; its status and escalation stay as they are."""
        return self._act(alert_id, actor, NOTE, note)

    def _act(self, alert_id: int, actor: Actor, action: str, note: str | None) -> AlertView:
        """Apply an officer's action, with its timeline and change-log entries, then tell the listeners."""
        now = self._now()
        with self._repo.write() as conn:
            alert = self._repo.alerts.get(alert_id, conn=conn, lock=True)
            if alert is None or not actor.sees(alert.ward_id):
                raise NotFoundError(f"alert {alert_id} not found")
            alert = apply_action(alert, action, actor.username, note, now)
            self._repo.alerts.update(conn, [alert.as_dict()])
            text = f"{action} by {actor.username}" + (f": {note}" if note else "")
            self._repo.alerts.add_timeline(
                conn, [{"alert_id": alert.id, "event_id": None, "kind": action, "time": now, "note": text}]
            )
            (change,) = log_changes(self._repo, conn, [(alert, _ACTION_CHANGES[action])], now)
        # Every action bumps the alert's version: ingest's cached copy of it must be read again.
        for callback in list(self._listeners):
            callback(alert.order_id)
        self.publish([change])
        return AlertView(alert, change.escalation)

    def _now(self) -> datetime:
        return utc_from_timestamp(self._clock.now())


def apply_action(alert: Alert, action: str, username: str, note: str | None, now: datetime) -> Alert:
    """The alert after an officer's action (acknowledged, resolved or note); ConflictError if not allowed."""
    _check_action(alert, action)
    if action == ACKNOWLEDGED:
        alert = replace(alert, status=ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=username)
    elif action == RESOLVED:
        alert = replace(alert, status=RESOLVED, resolved_at=now, resolved_by=username, resolution_note=note)
    return replace(alert, updated_at=now, version=alert.version + 1)


def _check_action(alert: Alert, action: str) -> None:
    if alert.status == RESOLVED and action == NOTE:
        raise ConflictError(f"alert {alert.id} is resolved and a resolved alert never changes: no more notes")
    if alert.status == RESOLVED:
        raise ConflictError(f"alert {alert.id} is already resolved; a new incident opens a new alert")
    if action == ACKNOWLEDGED and alert.status == ACKNOWLEDGED:
        raise ConflictError(f"alert {alert.id} is already acknowledged by {alert.acknowledged_by}")
    if action == RESOLVED and alert.status == OPEN:
        raise ConflictError(f"alert {alert.id} is open: acknowledge it before resolving it")
