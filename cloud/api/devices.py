"""Device routes: register bracelets, and each ward's device status overview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import HubDep, ManagerDep, OfficerDep
from cloud.api.params import Offset
from gateway.protocol import DEVICE_ID_PATTERN

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceIn(BaseModel):
    """A bracelet to register."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(
        pattern=DEVICE_ID_PATTERN, description="8 lowercase hex digits, as in its adverts."
    )
    kind: Literal["bracelet"] = "bracelet"


class DeviceOut(BaseModel):
    """A device and its last reported state."""

    model_config = ConfigDict(from_attributes=True)

    device_id: str
    kind: str
    registered_at: datetime
    last_seen_at: datetime | None
    last_site_id: str | None
    last_battery: int | None
    last_rssi: float | None
    last_presence: str | None
    order_id: int | None = Field(description="The active order it serves, if any.")
    ward_id: str | None


@router.post("", response_model=DeviceOut, status_code=status.HTTP_201_CREATED)
def register_device(body: DeviceIn, actor: ManagerDep, hub: HubDep) -> DeviceOut:
    """Add a bracelet to the registry."""
    return DeviceOut.model_validate(hub.devices.register(actor, body.device_id, body.kind))


@router.get("", response_model=list[DeviceOut])
def list_devices(
    actor: OfficerDep,
    hub: HubDep,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[DeviceOut]:
    """Status overview of the devices serving the caller's wards' active orders."""
    return [
        DeviceOut.model_validate(d)
        for d in hub.devices.overview(actor, ward=ward, limit=limit, offset=offset)
    ]


@router.get("/{device_id}", response_model=DeviceOut)
def get_device(
    device_id: Annotated[str, Path(pattern=DEVICE_ID_PATTERN)], actor: OfficerDep, hub: HubDep
) -> DeviceOut:
    """One device of the caller's wards."""
    return DeviceOut.model_validate(hub.devices.get(actor, device_id))
