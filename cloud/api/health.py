"""Liveness and readiness: is the database reachable, is the broker connected."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from cloud.api.deps import HubDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    """Readiness of the hub's dependencies."""

    status: str
    database: bool
    mqtt: bool | None
    ingest: dict[str, object] | None = None


@router.get("/healthz", response_model=HealthOut)
def healthz(hub: HubDep, response: Response) -> HealthOut:
    """200 when the database answers and ingest is connected to the broker (if it runs); 503 otherwise."""
    database = hub.repository.ping()
    mqtt = hub.ingest.connected if hub.ingest is not None and hub.ingest.running else None
    healthy = database and mqtt is not False
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    counters = hub.ingest.snapshot() if hub.ingest is not None else None
    return HealthOut(status="ok" if healthy else "degraded", database=database, mqtt=mqtt, ingest=counters)
