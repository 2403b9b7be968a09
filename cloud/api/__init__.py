"""The hub's REST API under /api/v1 (one module per resource) and /healthz."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api import alerts, auth, citizens, declarations, devices, health, orders, sites, snapshots


def build_router() -> APIRouter:
    """Every route of the hub."""
    router = APIRouter()
    api = APIRouter(prefix="/api/v1")
    for module in (auth, alerts, orders, devices, sites):
        api.include_router(module.router)
    api.include_router(sites.rooms_router)
    api.include_router(snapshots.router)
    # Before citizens' routes: /citizens/me/declarations must not be taken for another citizens route.
    api.include_router(declarations.own_router)
    api.include_router(citizens.router)
    api.include_router(declarations.router)
    router.include_router(api)
    router.include_router(health.router)
    return router
