"""Request dependencies: the hub's services, and the authenticated actor with role checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from cloud.access import MANAGERS, OFFICERS, STAFF, Actor, Role
from cloud.aggregates import AggregateService
from cloud.alerts import AlertService
from cloud.auth import AuthenticationError, Passwords, Tokens
from cloud.broadcaster import Broadcaster
from cloud.certificate_service import CertificateService
from cloud.citizens import CitizenService
from cloud.commands import CommandSender
from cloud.declarations import DeclarationService
from cloud.devices import DeviceService
from cloud.escalation_service import EscalationService
from cloud.health_passes import HealthPassService
from cloud.ingest import Ingest
from cloud.labs import LabService
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.outbox import Outbox
from cloud.orders import OrderService
from cloud.settings import HubSettings
from cloud.sites import SiteService
from cloud.snapshots import SnapshotService
from cloud.storage.repository import Repository
from cloud.storage.telemetry import TelemetryStore
from cloud.tracing import TracingService
from cloud.vaccination_service import VaccinationService
from cloud.venues import VenueService
from qmon.clock import Clock

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a route, not a secret


@dataclass
class Hub:
    """Everything a request may use; built by the app's lifespan."""

    settings: HubSettings
    clock: Clock
    repository: Repository
    passwords: Passwords
    tokens: Tokens
    broadcaster: Broadcaster
    alerts: AlertService
    orders: OrderService
    devices: DeviceService
    sites: SiteService
    ingest: Ingest | None
    snapshots: SnapshotService
    commands: CommandSender | None
    citizens: CitizenService
    declarations: DeclarationService
    vaccination: VaccinationService
    certificates: CertificateService
    venues: VenueService
    labs: LabService
    tracing: TracingService
    aggregates: AggregateService
    health_passes: HealthPassService
    telemetry: TelemetryStore  # readings for the console's charts (written by ingest)
    outbox: Outbox  # the notifications outbox as staff see it
    escalation: EscalationService | None = None  # the escalation sweep (None: disabled)
    notifications: Dispatcher | None = None  # the notifications outbox's dispatcher


def get_hub(request: Request) -> Hub:
    """The hub of the running app."""
    hub: Hub = request.app.state.hub
    return hub


oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL)
HubDep = Annotated[Hub, Depends(get_hub)]


def current_actor(token: Annotated[str, Depends(oauth2_scheme)], hub: HubDep) -> Actor:
    """The officer, staff member or citizen a valid bearer token names (401 otherwise)."""
    try:
        return hub.tokens.verify(token)
    except AuthenticationError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None


def require_roles(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that admits only these roles (403 otherwise)."""
    allowed = frozenset(roles)

    def check(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this action needs one of the roles: {names}")
        return actor

    return check


ActorDep = Annotated[Actor, Depends(current_actor)]
# Every officer role may read and handle its wards' alerts; managing orders and devices needs more.
OfficerDep = Annotated[Actor, Depends(require_roles(*OFFICERS))]
ManagerDep = Annotated[Actor, Depends(require_roles(*MANAGERS))]
# Any authority's account (officers and the public-health staff roles), never a citizen.
StaffDep = Annotated[Actor, Depends(require_roles(*STAFF))]
CitizenDep = Annotated[Actor, Depends(require_roles(Role.CITIZEN))]
