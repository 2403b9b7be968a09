"""Notification routes: the outbox's rows by status and ward (officers read their wards'), and sending a
failed one again (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud.access import Actor, Role
from cloud.api.deps import HubDep, OfficerDep, require_roles
from cloud.api.params import Offset, RecordId

router = APIRouter(prefix="/notifications", tags=["notifications"])
AdminDep = Annotated[Actor, Depends(require_roles(Role.ADMIN))]


class NotificationOut(BaseModel):
    """One notification of the outbox: where it goes and how its delivery went (no payload, no secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    ward_id: str
    channel: str = Field(description="webhook or email.")
    target: str = Field(
        description="The webhook URL without credentials, query or token-like path segments; or the e-mail "
        "recipients."
    )
    kind: str = Field(description="opened, escalated or reminder.")
    level: int = Field(description="Escalation level: 0 officers, 1 supervisors, 2 district.")
    status: str = Field(description="pending, sent or failed.")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending one is attempted next.")
    sent_at: datetime | None
    last_error: str | None = Field(description="Why the last attempt failed.")
    claimed_by: str | None = Field(description="The hub replica attempting it right now, if any.")
    claimed_until: datetime | None = Field(description="Until when that replica holds it.")


class NotificationPage(BaseModel):
    """One page of notifications."""

    items: list[NotificationOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


Status = Annotated[
    Literal["pending", "sent", "failed"] | None, Query(description="pending, sent or failed (none: all).")
]
Ward = Annotated[str | None, Query(min_length=1, max_length=64, description="One of the caller's wards.")]


@router.get("", response_model=NotificationPage)
def list_notifications(
    actor: OfficerDep,
    hub: HubDep,
    status: Status = None,
    ward: Ward = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> NotificationPage:
    """Notifications of the caller's wards (an administrator's: every ward), newest first."""
    found = hub.outbox.list(actor, status=status, ward=ward, limit=limit + 1, offset=offset)
    items = [NotificationOut.model_validate(n) for n in found[:limit]]
    return NotificationPage(
        items=items, limit=limit, offset=offset, next_offset=offset + limit if len(found) > limit else None
    )


@router.post("/{notification_id}/retry", response_model=NotificationOut)
def retry_notification(notification_id: RecordId, actor: AdminDep, hub: HubDep) -> NotificationOut:
    """Send a failed notification again: pending, attempts reset, due now (409 unless it failed)."""
    return NotificationOut.model_validate(hub.outbox.retry(actor, notification_id))
