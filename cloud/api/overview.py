"""The ward overview for the officers' console: people and their state now, rooms, orders ending soon."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cloud.api.deps import HubDep, OfficerDep
from cloud.api.orders import OrderOut
from cloud.api.sites import RoomOut
from cloud.overview import OverviewService, PersonState, PersonView
from cloud.sites import RoomView

router = APIRouter(prefix="/overview", tags=["overview"])


class PersonStateOut(BaseModel):
    """A home-quarantined person and their bracelet's state now."""

    order_id: int
    full_name: str
    ward_id: str
    address: str
    site_id: str
    device_id: str | None
    ends_at: datetime
    state: PersonState = Field(
        description="hub_offline, bracelet_off, strap_open, signal_lost, out, at_home or unknown."
    )
    conditions: list[str] = Field(description="Every condition that holds now (also fever, battery_low).")
    last_seen_at: datetime | None
    battery: int | None
    rssi: float | None
    site_state: str | None = Field(description="online or offline (null: the home hub never reported).")


class OverviewOut(BaseModel):
    """The caller's wards at a glance."""

    generated_at: datetime
    people: list[PersonStateOut]
    rooms: list[RoomOut]
    ending_soon: list[OrderOut] = Field(description="Active orders ending within `ending_within_h`.")
    pending: list[OrderOut] = Field(description="Orders waiting for a bracelet or a room.")
    counts: dict[str, int] = Field(description="People by state.")


def _person(view: PersonView) -> PersonStateOut:
    order, device = view.order, view.device
    return PersonStateOut(
        order_id=order.id,
        full_name=order.person.full_name,
        ward_id=order.ward_id,
        address=order.address,
        site_id=order.site_id,
        device_id=order.device_id,
        ends_at=order.ends_at,
        state=view.state,
        conditions=view.conditions,
        last_seen_at=device.last_seen_at if device else None,
        battery=device.last_battery if device else None,
        rssi=device.last_rssi if device else None,
        site_state=view.site_state,
    )


def _room(view: RoomView) -> RoomOut:
    s = view.status
    return RoomOut(
        site_id=view.site_id,
        room_id=view.room_id,
        order_ids=view.order_ids,
        time=s.time if s else None,
        faces=s.faces if s else None,
        allowed=s.allowed if s else None,
        person_present=s.person_present if s else None,
        camera=s.camera if s else None,
    )


@router.get("", response_model=OverviewOut)
def get_overview(
    actor: OfficerDep,
    hub: HubDep,
    ward: Annotated[str | None, Query(max_length=64, description="One of the caller's wards.")] = None,
    ending_within_h: Annotated[int, Query(ge=1, le=24 * 30)] = 72,
) -> OverviewOut:
    """Everyone in quarantine in the caller's wards with their state now, facility rooms, orders ending."""
    overview = OverviewService(hub.repository, hub.clock).build(
        actor, ward=ward, ending_within=timedelta(hours=ending_within_h)
    )
    counts = {state.value: 0 for state in PersonState}
    for person in overview.people:
        counts[person.state.value] += 1
    return OverviewOut(
        generated_at=overview.generated_at,
        people=[_person(p) for p in overview.people],
        rooms=[_room(r) for r in overview.rooms],
        ending_soon=[OrderOut.model_validate(o) for o in overview.ending_soon],
        pending=[OrderOut.model_validate(o) for o in overview.pending],
        counts=counts,
    )
