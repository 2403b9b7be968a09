"""Quarantine order routes: create, list, read, activate, extend, and end for a reason (release policy)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cloud.api.deps import HubDep, ManagerDep, OfficerDep
from cloud.api.params import MAX_ID, Offset, RecordId
from cloud.orders import NewOrder, Placement
from cloud.release import Release, ReleaseReason
from cloud.storage.records import Order
from gateway.protocol import DEVICE_ID_PATTERN, ROOM_ID_PATTERN, SITE_ID_PATTERN

router = APIRouter(prefix="/orders", tags=["orders"])

WARD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PersonIn(BaseModel):
    """The person to quarantine: a name, a phone number only if officers will call it, and the identity
    number if their lab results are to release them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(None, pattern=r"^\+?[0-9 ()-]{6,31}$")
    identity_number: str | None = Field(
        None,
        min_length=9,
        max_length=20,
        description="9-digit CMND or 12-digit CCCD (kept only as its keyed hash; the person already on "
        "record under it is reused). Needed to end the order on a negative test; 503 if the hub has no "
        "identity_hash_key.",
    )


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
    """Extend or shorten an order (`ends_at`). End one with POST /orders/{id}/end and a reason."""

    model_config = ConfigDict(extra="forbid")

    ends_at: AwareDatetime | None = None
    status: Literal["ended"] | None = Field(
        None,
        description="Deprecated: the same as POST /orders/{id}/end with reason `completed`, which the "
        "release policy refuses (422, saying what is needed) unless order_release.require_negative_test is "
        "off.",
    )

    @model_validator(mode="after")
    def _check_one(self) -> Self:
        if (self.ends_at is None) == (self.status is None):
            raise ValueError("give ends_at; to end an order, POST /orders/{id}/end with a reason")
        return self


class EndIn(BaseModel):
    """Why an order ends now (cloud/release.py): `negative_test` with the releasing sample's id, `completed`
    (only when the hub requires no test), or `transferred`, `cleared` (pending orders) or `entered_in_error`
    with a note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: ReleaseReason
    release_sample_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="reason negative_test: a negative sample of the person (theirs, or a pool they were in).",
    )
    note: str | None = Field(
        None, max_length=500, description="Why, and where to (transferred): required unless a test releases."
    )


class PersonOut(BaseModel):
    """The person of an order."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    full_name: str
    phone: str | None
    identified: bool = Field(description="The identity number is known: a negative test can release them.")


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
    ended_at: datetime | None = Field(description="When an officer ended it (null: not ended by one).")
    ended_by: str | None
    end_reason: ReleaseReason | None
    release_sample_id: int | None = Field(description="The negative sample that released the person.")
    end_note: str | None


def _out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order)


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def create_order(body: OrderIn, actor: ManagerDep, hub: HubDep) -> OrderOut:
    """Place a person in home quarantine (bracelet and home hub) or in a facility room."""
    new = NewOrder(
        full_name=body.person.full_name,
        phone=body.person.phone,
        identity_number=body.person.identity_number,
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
    """Extend or shorten an active or pending order (`status: ended` is deprecated: see POST .../end)."""
    if body.ends_at is None:
        return _out(hub.orders.end(actor, order_id, Release(ReleaseReason.COMPLETED)))
    return _out(hub.orders.update(actor, order_id, ends_at=body.ends_at))


@router.post("/{order_id}/end", response_model=OrderOut)
def end_order(order_id: RecordId, body: EndIn, actor: ManagerDep, hub: HubDep) -> OrderOut:
    """End an active or pending order now, for a reason the hub's release policy accepts.

    422 says what is missing: the sample (and why the one given does not release the person: not theirs,
    not negative, too old, a kind not accepted, or no identity number on record) or the note."""
    release = Release(body.reason, body.release_sample_id, body.note)
    return _out(hub.orders.end(actor, order_id, release))
