"""Snapshot routes: ask a facility room's edge box for one blurred picture, follow the request, fetch it.

`POST /rooms/{site_id}/{room_id}/snapshots` answers 202 at once; the edge's answer arrives over MQTT within
seconds (`GET /snapshots/{id}` until `ready` or `failed`); `GET /snapshots/{id}/image` serves the JPEG
until its retention passes. Scoped like GET /rooms: another ward's room is 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from cloud.api.deps import HubDep, OfficerDep
from cloud.snapshots import SnapshotView
from gateway.protocol import ROOM_ID_PATTERN, SITE_ID_PATTERN

router = APIRouter(tags=["snapshots"])
API_PREFIX = "/api/v1"


class SnapshotOut(BaseModel):
    """A snapshot request and what became of it."""

    id: str = Field(description="The request's id (also the command id sent to the edge).")
    site_id: str
    room_id: str
    requested_by: str = Field(description="The officer who asked.")
    requested_at: datetime
    status: str = Field(description="pending, ready, failed or expired.")
    error: str | None = Field(
        description="Why it failed: unknown_room, camera_offline, busy, failed (the edge's answer), "
        "timeout (no answer in time), not_sent."
    )
    received_at: datetime | None = Field(description="When the edge's answer arrived.")
    taken_at: datetime | None = Field(description="When the edge's camera took the frame.")
    faces_blurred: int | None = Field(
        description="Faces found and blurred (null with an image: detection failed, all of it is blurred)."
    )
    expires_at: datetime | None = Field(description="When the image will be deleted (ready only).")
    image_url: str | None = Field(description="Where to fetch the JPEG (ready only).")


def _out(view: SnapshotView) -> SnapshotOut:
    r = view.record
    ready = view.status == "ready"
    return SnapshotOut(
        id=r.id,
        site_id=r.site_id,
        room_id=r.room_id,
        requested_by=r.requested_by,
        requested_at=r.requested_at,
        status=view.status,
        error=view.error,
        received_at=r.received_at,
        taken_at=r.taken_at,
        faces_blurred=r.faces_blurred,
        expires_at=view.expires_at,
        image_url=f"{API_PREFIX}/snapshots/{r.id}/image" if ready else None,
    )


@router.post(
    "/rooms/{site_id}/{room_id}/snapshots",
    response_model=SnapshotOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def request_snapshot(
    site_id: Annotated[str, Path(pattern=SITE_ID_PATTERN)],
    room_id: Annotated[str, Path(pattern=ROOM_ID_PATTERN)],
    actor: OfficerDep,
    hub: HubDep,
    response: Response,
) -> SnapshotOut:
    """Ask the room's edge box for a snapshot with every face blurred (202; follow the Location)."""
    out = _out(hub.snapshots.request(actor, site_id, room_id))
    response.headers["Location"] = f"{API_PREFIX}/snapshots/{out.id}"
    return out


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut)
def get_snapshot(snapshot_id: uuid.UUID, actor: OfficerDep, hub: HubDep) -> SnapshotOut:
    """A snapshot request's status."""
    return _out(hub.snapshots.get(actor, str(snapshot_id)))


@router.get(
    "/snapshots/{snapshot_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The blurred JPEG."}},
)
def get_snapshot_image(snapshot_id: uuid.UUID, actor: OfficerDep, hub: HubDep) -> Response:
    """The blurred JPEG of a ready snapshot (409 while pending or failed, 410 once deleted)."""
    jpeg = hub.snapshots.image(actor, str(snapshot_id))
    # Personal data: no cache anywhere may keep a copy beyond the hub's retention.
    return Response(content=jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})
