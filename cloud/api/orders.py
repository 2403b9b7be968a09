"""Quarantine order routes: create, list, read, extend or end."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cloud.api.deps import HubDep, ManagerDep, OfficerDep
from cloud.api.params import Offset, RecordId
from cloud.orders import NewOrder, Placement
from cloud.storage.records import Order
from gateway.protocol import DEVICE_ID_PATTERN, ROOM_ID_PATTERN, SITE_ID_PATTERN

router = APIRouter(prefix="/orders", tags=["orders"])

WARD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PersonIn(BaseModel):
    """The person to quarantine: a name, and a phone number only if officers will call it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(None, pattern=r"^\+?[0-9 ()-]{6,31}$")


class OrderIn(BaseModel):
    """A new quarantine order: at home with a bracelet (`device_id`), or in a facility room (`room_id`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person: PersonIn
    ward_id: str = Field(pattern=WARD_PATTERN)
    address: str = Field(min_length=1, max_length=300)
    site_id: str = Field(
        pattern=SITE_ID_PATTERN,
        description="The edge site monitoring the person: their home hub, or the facility's edge box.",
    )
    device_id: str | None = Field(
        None, pattern=DEVICE_ID_PATTERN, description="Home quarantine: the bracelet, registered beforehand."
    )
    room_id: str | None = Field(
        None,
        pattern=ROOM_ID_PATTERN,
        description="Facility isolation: the camera-watched room (several orders may share one room).",
    )
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.device_id is None) == (self.room_id is None):
            raise ValueError("give exactly one of device_id (home quarantine) or room_id (facility room)")
        return self


class OrderPatch(BaseModel):
    """Extend or shorten an order (`ends_at`), or end it now (`status: ended`)."""

    model_config = ConfigDict(extra="forbid")

    ends_at: AwareDatetime | None = None
    status: Literal["ended"] | None = None

    @model_validator(mode="after")
    def _check_something(self) -> Self:
        if self.ends_at is None and self.status is None:
            raise ValueError("give ends_at, status, or both")
        return self


class PersonOut(BaseModel):
    """The person of an order."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    phone: str | None


class OrderOut(BaseModel):
    """A quarantine order."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    person: PersonOut
    ward_id: str
    address: str
    site_id: str
    device_id: str | None
    room_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime


def _out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order)


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def create_order(body: OrderIn, actor: ManagerDep, hub: HubDep) -> OrderOut:
    """Place a person in home quarantine (bracelet and home hub) or in a facility room."""
    new = NewOrder(
        full_name=body.person.full_name,
        phone=body.person.phone,
        ward_id=body.ward_id,
        address=body.address,
        site_id=body.site_id,
        device_id=body.device_id,
        room_id=body.room_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
    )
    return _out(hub.orders.create(actor, new))


@router.get("", response_model=list[OrderOut])
def list_orders(
    actor: OfficerDep,
    hub: HubDep,
    status: Annotated[Literal["active", "ended"] | None, Query()] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> list[OrderOut]:
    """Orders of the caller's wards, newest first."""
    return [_out(o) for o in hub.orders.list(actor, ward=ward, status=status, limit=limit, offset=offset)]


class ActivationIn(BaseModel):
    """How a pending order (made by contact tracing) is monitored from now on."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site_id: str = Field(
        pattern=SITE_ID_PATTERN,
        description="The edge site monitoring the person: their home hub, or the facility's edge box.",
    )
    device_id: str | None = Field(
        None, pattern=DEVICE_ID_PATTERN, description="Home quarantine: the bracelet, registered beforehand."
    )
    room_id: str | None = Field(None, pattern=ROOM_ID_PATTERN, description="Facility isolation: the room.")
    address: str | None = Field(
        None, min_length=1, max_length=300, description="The confirmed address (default: as tracing left it)."
    )

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.device_id is None) == (self.room_id is None):
            raise ValueError("give exactly one of device_id (home quarantine) or room_id (facility room)")
        return self


@router.post("/{order_id}/activate", response_model=OrderOut)
def activate_order(order_id: RecordId, body: ActivationIn, actor: ManagerDep, hub: HubDep) -> OrderOut:
    """Start monitoring a pending order: fit its bracelet (registered and free) or assign its room."""
    placement = Placement(body.site_id, body.device_id, body.room_id, body.address)
    return _out(hub.orders.activate(actor, order_id, placement))


@router.get("/{order_id}", response_model=OrderOut)
def get_order(order_id: RecordId, actor: OfficerDep, hub: HubDep) -> OrderOut:
    """One order of the caller's wards."""
    return _out(hub.orders.get(actor, order_id))


@router.patch("/{order_id}", response_model=OrderOut)
def update_order(order_id: RecordId, body: OrderPatch, actor: ManagerDep, hub: HubDep) -> OrderOut:
    """Extend, shorten or end an active or pending order."""
    return _out(hub.orders.update(actor, order_id, ends_at=body.ends_at, end=body.status == "ended"))
