"""Telemetry for the console's charts: a bracelet's (distance or RSSI, heart rate, skin temperature) and a
facility room's (faces seen against faces allowed, camera state)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from cloud.access import Actor
from cloud.api.deps import HubDep, OfficerDep
from cloud.errors import InvalidRequestError, NotFoundError
from cloud.storage.records import Order
from cloud.storage.repository import Repository
from gateway.protocol import DEVICE_ID_PATTERN, ROOM_ID_PATTERN, SITE_ID_PATTERN, utc_from_timestamp

router = APIRouter(prefix="/devices", tags=["telemetry"])
rooms_router = APIRouter(prefix="/rooms", tags=["telemetry"])
DEFAULT_WINDOW = timedelta(hours=1)
MAX_WINDOW = timedelta(days=31)
MAX_ORDERS = 100


class TelemetryPointOut(BaseModel):
    """One reading (fields a bracelet did not report are null)."""

    time: datetime
    site_id: str
    presence: str | None = None
    rssi: float | None = None
    distance_m: float | None = None
    battery: float | None = None
    heart_rate: float | None = None
    skin_temp_c: float | None = None
    strap_closed: bool | None = None
    skin_contact: bool | None = None
    charging: bool | None = None


class TelemetryOut(BaseModel):
    """A device's readings in a window, oldest first."""

    device_id: str
    start: datetime
    end: datetime
    points: list[TelemetryPointOut]
    truncated: bool = Field(description="True when `limit` cut the window short (ask again from the last).")


class RoomTelemetryPointOut(BaseModel):
    """One reading of a facility room's camera (fields the edge did not report are null)."""

    time: datetime
    faces: int | None = Field(None, description="Faces seen in the room.")
    allowed: int | None = Field(None, description="Faces allowed (the people isolated there).")
    person_present: bool | None = None
    camera: str | None = Field(None, description="ok, covered, dark, frozen or offline.")
    brightness: float | None = None
    fps: float | None = Field(None, description="Frames analysed per second.")
    detections: int | None = None


class RoomTelemetryOut(BaseModel):
    """A facility room's readings in a window, oldest first."""

    site_id: str
    room_id: str
    start: datetime
    end: datetime
    points: list[RoomTelemetryPointOut]
    truncated: bool = Field(description="True when `limit` cut the window short (ask again from the last).")


Start = Annotated[AwareDatetime | None, Query(description="Default: an hour before `end`.")]
End = Annotated[AwareDatetime | None, Query(description="Default: now.")]
Limit = Annotated[int, Query(ge=1, le=20_000)]


def _window(start: datetime | None, end: datetime | None, now: float) -> tuple[datetime, datetime]:
    """The asked window with its defaults (the hour before now), refused if backwards or too long."""
    end = end or utc_from_timestamp(now)
    start = start or end - DEFAULT_WINDOW
    if end <= start:
        raise InvalidRequestError("end must be after start")
    if end - start > MAX_WINDOW:
        raise InvalidRequestError(f"the window may span at most {MAX_WINDOW.days} days")
    return start, end


def _span(found: list[Order], what: str) -> tuple[datetime, datetime]:
    if not found:
        raise NotFoundError(f"{what} not found")
    return min(o.starts_at for o in found), max(o.ends_at for o in found)


def order_window(repo: Repository, actor: Actor, device_id: str) -> tuple[datetime, datetime]:
    """The span of the device's orders in the actor's wards (404 if it served none there).

    A bracelet is reused between people: another ward's (or an earlier wearer's outside these wards)
    readings stay out of reach by clamping the window to these orders."""
    found = repo.orders.list(wards=actor.ward_filter, device_id=device_id, limit=MAX_ORDERS)
    return _span(found, f"device {device_id}")


def room_order_window(
    repo: Repository, actor: Actor, site_id: str, room_id: str
) -> tuple[datetime, datetime]:
    """The span of the room's orders (active or ended) in the actor's wards (404 if it held none of them).

    A room holds other wards' people before and after (and beside) these: as for a bracelet, the window is
    clamped to these orders."""
    found = repo.orders.list(wards=actor.ward_filter, room=(site_id, room_id), limit=MAX_ORDERS)
    return _span(found, f"room {site_id}/{room_id}")


@router.get("/{device_id}/telemetry", response_model=TelemetryOut)
async def get_telemetry(
    device_id: Annotated[str, Path(pattern=DEVICE_ID_PATTERN)],
    actor: OfficerDep,
    hub: HubDep,
    start: Start = None,
    end: End = None,
    limit: Limit = 5000,
) -> TelemetryOut:
    """Readings of a bracelet serving (or having served) an order of the caller's wards."""
    start, end = _window(start, end, hub.clock.now())
    first, last = await run_in_threadpool(order_window, hub.repository, actor, device_id)
    since, until = max(start, first), min(end, last)
    points = []
    if since < until:
        points = await run_in_threadpool(hub.telemetry.query, device_id, since, until, limit + 1)
    return TelemetryOut(
        device_id=device_id,
        start=start,
        end=end,
        points=[_point(p.time, p.site_id, p.values) for p in points[:limit]],
        truncated=len(points) > limit,
    )


def _point(time: datetime, site_id: str, values: Any) -> TelemetryPointOut:
    known = {k: v for k, v in dict(values).items() if k in TelemetryPointOut.model_fields}
    return TelemetryPointOut(time=time, site_id=site_id, **known)


@rooms_router.get("/{site_id}/{room_id}/telemetry", response_model=RoomTelemetryOut)
async def get_room_telemetry(
    site_id: Annotated[str, Path(pattern=SITE_ID_PATTERN)],
    room_id: Annotated[str, Path(pattern=ROOM_ID_PATTERN)],
    actor: OfficerDep,
    hub: HubDep,
    start: Start = None,
    end: End = None,
    limit: Limit = 5000,
) -> RoomTelemetryOut:
    """Occupancy and camera readings of a facility room holding (or having held) an order of the caller's
    wards, within those orders' span (404 otherwise)."""
    start, end = _window(start, end, hub.clock.now())
    first, last = await run_in_threadpool(room_order_window, hub.repository, actor, site_id, room_id)
    since, until = max(start, first), min(end, last)
    points = []
    if since < until:
        points = await run_in_threadpool(hub.telemetry.query_room, site_id, room_id, since, until, limit + 1)
    return RoomTelemetryOut(
        site_id=site_id,
        room_id=room_id,
        start=start,
        end=end,
        points=[_room_point(p.time, p.values) for p in points[:limit]],
        truncated=len(points) > limit,
    )


def _room_point(time: datetime, values: Any) -> RoomTelemetryPointOut:
    known = {k: v for k, v in dict(values).items() if k in RoomTelemetryPointOut.model_fields}
    return RoomTelemetryPointOut(time=time, **known)
