"""Site routes: the online/offline status of the edge sites serving the caller's wards, and the state of
their facility rooms."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import HubDep, OfficerDep
from gateway.protocol import SITE_ID_PATTERN

router = APIRouter(prefix="/sites", tags=["sites"])
rooms_router = APIRouter(prefix="/rooms", tags=["sites"])


class SiteOut(BaseModel):
    """A site's last announced state."""

    model_config = ConfigDict(from_attributes=True)

    site_id: str
    state: str
    since: datetime
    reason: str | None
    updated_at: datetime


class RoomOut(BaseModel):
    """A facility room: its active orders and what its camera last reported (counts, never images)."""

    site_id: str
    room_id: str
    order_ids: list[int]
    time: datetime | None = Field(description="Time of the last reading (null: none received yet).")
    faces: int | None
    allowed: int | None
    person_present: bool | None
    camera: str | None = Field(description="ok, covered, dark, frozen or offline.")


@rooms_router.get("", response_model=list[RoomOut])
def list_rooms(actor: OfficerDep, hub: HubDep) -> list[RoomOut]:
    """Facility rooms of the caller's wards with their last occupancy and camera state."""
    out = []
    for view in hub.sites.rooms(actor):
        s = view.status
        out.append(
            RoomOut(
                site_id=view.site_id,
                room_id=view.room_id,
                order_ids=view.order_ids,
                time=s.time if s else None,
                faces=s.faces if s else None,
                allowed=s.allowed if s else None,
                person_present=s.person_present if s else None,
                camera=s.camera if s else None,
            )
        )
    return out


@router.get("", response_model=list[SiteOut])
def list_sites(actor: OfficerDep, hub: HubDep) -> list[SiteOut]:
    """Status of the home hubs serving the caller's wards."""
    return [SiteOut.model_validate(s) for s in hub.sites.list(actor)]


@router.get("/{site_id}", response_model=SiteOut)
def get_site(
    site_id: Annotated[str, Path(pattern=SITE_ID_PATTERN)], actor: OfficerDep, hub: HubDep
) -> SiteOut:
    """One home hub's status."""
    return SiteOut.model_validate(hub.sites.get(actor, site_id))
