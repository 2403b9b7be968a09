"""Alert routes: list, read with timeline and notifications, acknowledge, add a note, resolve, and the live
SSE feed. Every alert carries its escalation level and the time of its next escalation step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi import status as http
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cloud.alerts import STATUSES, AlertView
from cloud.api.deps import Hub, HubDep, OfficerDep
from cloud.api.params import Offset, RecordId
from cloud.escalation import EscalationState, escalation_outlook
from cloud.notify.outbox import displayed
from cloud.rules import AlertType
from cloud.storage.escalations import StoredNotification
from cloud.storage.records import Alert, AlertChange

router = APIRouter(prefix="/alerts", tags=["alerts"])
REPLAY_PAGE = 500
RETRY_MS = 3000


class AlertOut(BaseModel):
    """An alert as officers see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    ward_id: str
    device_id: str | None = Field(description="The bracelet, for a home-quarantine order.")
    room_id: str | None = Field(description="The facility room, for an order watched by a camera.")
    site_id: str
    type: str
    severity: str
    status: str
    active: bool = Field(description="True while the condition behind the alert still holds.")
    opened_at: datetime
    first_event_at: datetime
    last_event_at: datetime
    event_count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    title: str
    summary: str
    updated_at: datetime
    version: int = Field(
        description="Grows by one with every change: of two copies of an alert, the higher version is newer "
        "(updated_at mixes the sites' event times with the hub's, so it cannot order them)."
    )
    escalation_level: int = Field(
        0, description="The level the alert escalated to: 0 ward officers, 1 ward supervisors, 2 district."
    )
    next_escalation_at: datetime | None = Field(
        None,
        description="When the escalation sweep acts next if nobody does: a move up a level or a reminder "
        "(null: nothing scheduled, the alert is resolved, or the sweep has not yet seen its latest status).",
    )


def alert_out(alert: Alert, escalation: EscalationState | None) -> AlertOut:
    """An alert and its stored escalation state as officers see them."""
    outlook = escalation_outlook(alert.status, escalation)
    return AlertOut.model_validate(
        {**alert.as_dict(), "escalation_level": outlook.level, "next_escalation_at": outlook.next_at}
    )


def _view_out(view: AlertView) -> AlertOut:
    return alert_out(view.alert, view.escalation)


class TimelineOut(BaseModel):
    """One step of an alert's history."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    time: datetime
    event_id: str | None
    note: str


class AlertNotificationOut(BaseModel):
    """A notification of the alert's escalation: who was told, how, and whether it went out."""

    channel: str = Field(description="webhook or email.")
    target: str = Field(
        description="The e-mail address; or the webhook's URL without credentials, query or token-like parts."
    )
    kind: str = Field(description="The escalation step: opened, escalated or reminder.")
    level: int = Field(description="The level told: 0 ward officers, 1 ward supervisors, 2 district.")
    status: str = Field(description="pending, sent or failed (after the last attempt).")
    attempts: int
    last_error: str | None
    created_at: datetime = Field(description="When the step queued it.")
    sent_at: datetime | None


def notification_out(stored: StoredNotification) -> AlertNotificationOut:
    """An outbox row as officers see it: its webhook URL without secrets, as the outbox page shows it."""
    shown = displayed(stored)
    return AlertNotificationOut(
        channel=shown.channel,
        target=shown.target,
        kind=shown.kind,
        level=shown.level,
        status=shown.status,
        attempts=shown.attempts,
        last_error=shown.last_error,
        created_at=shown.created_at,
        sent_at=shown.sent_at,
    )


class AlertDetail(AlertOut):
    """An alert with its timeline and the notifications its escalation sent."""

    timeline: list[TimelineOut]
    notifications: list[AlertNotificationOut]


class AlertPage(BaseModel):
    """One page of alerts."""

    items: list[AlertOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class AcknowledgeIn(BaseModel):
    """An acknowledgement, optionally with a note."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000)


class NoteIn(BaseModel):
    """An officer's note on an alert (surrounding blanks are dropped: a blank note is refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(min_length=1, max_length=2000, description="What the officer found, did or learned.")


class ResolveIn(BaseModel):
    """A resolution: what was found and done."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000, description="What was found and done.")


class AlertChangeOut(BaseModel):
    """One entry of the live feed: what changed and the alert's state now."""

    change_id: int
    kind: str
    time: datetime
    alert: AlertOut


Status = Annotated[
    str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$", description="open, acknowledged, resolved")
]
TypeFilter = Annotated[AlertType | None, Query(description="Alert type.")]


@router.get("", response_model=AlertPage)
def list_alerts(
    actor: OfficerDep,
    hub: HubDep,
    status: Status = None,
    type: TypeFilter = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Only alerts opened at or after this time.")
    ] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> AlertPage:
    """Alerts of the caller's wards, newest first."""
    found = hub.alerts.list(
        actor,
        ward=ward,
        status=status,
        type=type.value if type else None,
        since=since,
        limit=limit + 1,
        offset=offset,
    )
    items = [_view_out(v) for v in found[:limit]]
    return AlertPage(
        items=items, limit=limit, offset=offset, next_offset=offset + limit if len(found) > limit else None
    )


def last_event_id(last_event_id: Annotated[str | None, Header()] = None) -> int | None:
    """The SSE Last-Event-ID header as a change-log id (400 if it is not one)."""
    if last_event_id is None or not last_event_id.strip():
        return None
    try:
        value = int(last_event_id)
    except ValueError:
        value = -1
    if value < 0:
        raise HTTPException(
            http.HTTP_400_BAD_REQUEST, "Last-Event-ID must be a change id (a non-negative integer)"
        )
    return value


LastEventId = Annotated[int | None, Depends(last_event_id)]


@router.get("/stream", response_class=EventSourceResponse)
async def stream_alerts(actor: OfficerDep, hub: HubDep, after: LastEventId) -> AsyncIterator[ServerSentEvent]:
    """Live alert changes of the caller's wards; with Last-Event-ID, first every change after it."""
    wards = actor.ward_filter
    subscription, unsubscribe = hub.broadcaster.subscribe(wards)
    try:
        # Subscribe before replaying so nothing committed in between is missed; replayed ids are skipped live.
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        replayed: set[int] = set()
        while after is not None:
            page = await run_in_threadpool(
                hub.repository.alerts.changes_after, after, wards=wards, limit=REPLAY_PAGE
            )
            for change in page:
                replayed.add(change.id)
                yield _event(hub, change)
            after = page[-1].id if len(page) == REPLAY_PAGE else None
        while True:
            try:
                live = await subscription.get(timeout=hub.settings.sse_keepalive_s)
            except TimeoutError:
                yield ServerSentEvent(comment="keep-alive")
                continue
            if live is None:
                return  # too slow: dropped; the client reconnects with Last-Event-ID and replays
            if live.id not in replayed:
                yield _event(hub, live)
    finally:
        unsubscribe()


def _event(hub: Hub, change: AlertChange) -> ServerSentEvent:
    return ServerSentEvent(
        id=str(change.id), event="alert", raw_data=hub.broadcaster.wire_form(change, _wire)
    )


def _wire(change: AlertChange) -> str:
    if change.alert is None:
        raise ValueError(f"change {change.id} carries no alert")
    alert = alert_out(change.alert, change.escalation)
    return AlertChangeOut(
        change_id=change.id, kind=change.kind, time=change.time, alert=alert
    ).model_dump_json()


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: RecordId, actor: OfficerDep, hub: HubDep) -> AlertDetail:
    """One alert of the caller's wards, with its timeline and the notifications of its escalation."""
    case = hub.alerts.get(alert_id, actor)
    return AlertDetail(
        **alert_out(case.alert, case.escalation).model_dump(),
        timeline=[TimelineOut.model_validate(t) for t in case.timeline],
        notifications=[notification_out(n) for n in case.notifications],
    )


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(
    alert_id: RecordId, actor: OfficerDep, hub: HubDep, body: AcknowledgeIn | None = None
) -> AlertOut:
    """open -> acknowledged (409 from any other status); the body with a note is optional."""
    return _view_out(hub.alerts.acknowledge(alert_id, actor, body.note if body else None))


@router.post("/{alert_id}/notes", response_model=AlertOut, status_code=http.HTTP_201_CREATED)
def add_note(alert_id: RecordId, body: NoteIn, actor: OfficerDep, hub: HubDep) -> AlertOut:
    """Add a note to an open or acknowledged alert (409 once resolved: a resolved alert never changes).

    The note goes on the timeline ("note by <user>: ...") and the live feed; the status stays as it is.
    A note does not stop or reset the escalation: only an acknowledgement says that an officer has taken the
    alert on, and a note on an unacknowledged alert ("called, no answer") must not keep it from the
    supervisors. Answers with the alert as it is now."""
    return _view_out(hub.alerts.add_note(alert_id, actor, body.note))


@router.post("/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(alert_id: RecordId, body: ResolveIn, actor: OfficerDep, hub: HubDep) -> AlertOut:
    """acknowledged -> resolved with a note (409 from any other status)."""
    return _view_out(hub.alerts.resolve(alert_id, actor, body.note))
