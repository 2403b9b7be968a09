"""A bracelet's telemetry for the console's charts: distance or RSSI, heart rate, skin temperature."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, Field

from cloud.access import Actor
from cloud.api.deps import HubDep, OfficerDep
from cloud.errors import InvalidRequestError, NotFoundError
from cloud.storage.repository import Repository
from gateway.protocol import DEVICE_ID_PATTERN, utc_from_timestamp

router = APIRouter(prefix="/devices", tags=["telemetry"])
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


def order_window(repo: Repository, actor: Actor, device_id: str) -> tuple[datetime, datetime]:
    """The span of the device's orders in the actor's wards (404 if it served none there).

    A bracelet is reused between people: another ward's (or an earlier wearer's outside these wards)
    readings stay out of reach by clamping the window to these orders."""
    found = repo.orders.list(wards=actor.ward_filter, device_id=device_id, limit=MAX_ORDERS)
    if not found:
        raise NotFoundError(f"device {device_id} not found")
    return min(o.starts_at for o in found), max(o.ends_at for o in found)


@router.get("/{device_id}/telemetry", response_model=TelemetryOut)
async def get_telemetry(
    device_id: Annotated[str, Path(pattern=DEVICE_ID_PATTERN)],
    actor: OfficerDep,
    hub: HubDep,
    start: Annotated[AwareDatetime | None, Query(description="Default: an hour before `end`.")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Default: now.")] = None,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5000,
) -> TelemetryOut:
    """Readings of a bracelet serving (or having served) an order of the caller's wards."""
    end = end or utc_from_timestamp(hub.clock.now())
    start = start or end - DEFAULT_WINDOW
    if end <= start:
        raise InvalidRequestError("end must be after start")
    if end - start > MAX_WINDOW:
        raise InvalidRequestError(f"the window may span at most {MAX_WINDOW.days} days")
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
