"""The hub's REST API under /api/v1 (one module per resource) and /healthz."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api import (
    aggregates,
    alerts,
    auth,
    certificates,
    citizens,
    console,
    declarations,
    devices,
    health,
    health_pass,
    labs,
    notifications,
    orders,
    overview,
    sites,
    snapshots,
    telemetry,
    tracing,
    vaccination,
    venues,
)


def build_router() -> APIRouter:
    """Every route of the hub."""
    router = APIRouter()
    api = APIRouter(prefix="/api/v1")
    for module in (auth, alerts, orders, devices, sites):
        api.include_router(module.router)
    api.include_router(sites.rooms_router)
    api.include_router(overview.router)
    api.include_router(telemetry.router)
    api.include_router(telemetry.rooms_router)
    api.include_router(snapshots.router)
    # Before citizens' routes: /citizens/me/declarations must not be taken for another citizens route.
    api.include_router(declarations.own_router)
    api.include_router(venues.own_router)
    api.include_router(vaccination.own_router)
    api.include_router(certificates.own_router)
    api.include_router(health_pass.own_router)
    api.include_router(citizens.router)
    api.include_router(declarations.router)
    api.include_router(venues.router)
    api.include_router(labs.router)
    api.include_router(tracing.router)
    api.include_router(vaccination.router)
    api.include_router(certificates.router)
    api.include_router(health_pass.router)
    api.include_router(aggregates.router)
    api.include_router(aggregates.wards_router)
    api.include_router(notifications.router)
    router.include_router(api)
    router.include_router(health.router)
    router.include_router(console.router)
    return router
