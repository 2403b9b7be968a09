"""The hub's composition root: `create_app(settings)` for ASGI servers, `HubServer`/`serve_hub` to embed it.

Nothing happens at import time; the lifespan opens the database, migrates it if asked, starts ingest, the
command publisher (commands to the sites: snapshot requests), the snapshots' sweeper, the escalation sweep
and the notifications' dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

from cloud.aggregates import AggregateService
from cloud.alerts import AlertService
from cloud.api import build_router
from cloud.api.deps import Hub
from cloud.auth import Passwords, Tokens
from cloud.broadcaster import Broadcaster
from cloud.certificate_service import CertificateService
from cloud.citizens import CitizenService
from cloud.commands import CommandSender, MqttCommandPublisher
from cloud.declarations import DeclarationService
from cloud.devices import DeviceService
from cloud.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    HubError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
    UnprocessableError,
)
from cloud.escalation_service import EscalationService
from cloud.health_passes import HealthPassService
from cloud.identity import IdentityHasher
from cloud.ingest import Ingest
from cloud.labs import LabService
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.email import EmailNotifier
from cloud.notify.notifier import Notifier
from cloud.notify.outbox import Outbox
from cloud.notify.webhook import WebhookNotifier
from cloud.orders import OrderService
from cloud.qrcodes import QrSigner, QrVerifier
from cloud.ratelimit import RateLimiter
from cloud.settings import HubSettings
from cloud.sites import SiteService
from cloud.snapshots import SnapshotPolicy, SnapshotService
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from cloud.storage.telemetry import TelemetryStore
from cloud.telemetry import build_telemetry_store
from cloud.tracing import TracingService
from cloud.vaccination_service import VaccinationService
from cloud.venues import VenueService, load_qr_keys
from qmon.clock import Clock, SystemClock

log = logging.getLogger(__name__)
KEEP_ALIVE_S = 30

# Young-generation size between collections while the hub runs (see tune_collector).
YOUNG_GC_THRESHOLD = 20_000
_STATUS = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidRequestError: 400,
    ForbiddenError: 403,
    GoneError: 410,
    UnavailableError: 503,
    UnprocessableError: 422,
    RateLimitedError: 429,
}


def create_app(
    settings: HubSettings,
    *,
    clock: Clock | None = None,
    repository: Repository | None = None,
    start_ingest: bool = True,
    telemetry: TelemetryStore | None = None,
    passwords: Passwords | None = None,
    commands: CommandSender | None = None,
) -> FastAPI:
    """The hub's ASGI app; its lifespan owns the database (unless `repository` is given), the ingest and the
    command publisher (`commands`, else an MQTT one with the hub's account when ingest starts)."""
    clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = await asyncio.to_thread(
            _build_hub, settings, clock, repository, start_ingest, telemetry, passwords, commands
        )
        hub.broadcaster.bind(asyncio.get_running_loop())
        app.state.hub = hub
        restore_collector = tune_collector()
        sweeper = asyncio.create_task(hub.snapshots.run_sweeper(), name="qmon-hub-snapshot-sweeper")
        background = [sweeper]
        if hub.escalation is not None:
            background.append(asyncio.create_task(hub.escalation.run(), name="qmon-hub-escalation"))
        if hub.notifications is not None:
            background.append(asyncio.create_task(hub.notifications.run(), name="qmon-hub-notifications"))
        try:
            if hub.commands is not None:
                hub.commands.start()
            if hub.ingest is not None and start_ingest:
                hub.ingest.start()
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if hub.notifications is not None:
                await hub.notifications.aclose()
            if hub.commands is not None:
                await asyncio.to_thread(hub.commands.stop)
            if hub.ingest is not None:
                await asyncio.to_thread(hub.ingest.stop)
                hub.ingest.close()
            if telemetry is None:  # built from the settings: this app owns it
                hub.telemetry.close()
            if repository is None:
                hub.repository.close()
            restore_collector()

    app = FastAPI(title="qmon hub", version="1", lifespan=lifespan)
    limits = settings.rate_limits
    app.state.limiter = RateLimiter(limits.policy(), limits.storage_uri)
    app.include_router(build_router())
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    return app


def _build_hub(
    settings: HubSettings,
    clock: Clock,
    repository: Repository | None,
    start_ingest: bool,
    telemetry: TelemetryStore | None,
    passwords: Passwords | None,
    commands: CommandSender | None,
) -> Hub:
    repo = repository or Repository.from_url(settings.database_url)
    if settings.auto_migrate:
        upgrade(repo.engine)
    broadcaster = Broadcaster(settings.sse_queue_size)
    alerts = AlertService(repo, clock, broadcaster.publish)
    telemetry = telemetry or build_telemetry_store(settings.telemetry, repo, clock)
    ingest = Ingest(settings, repo, alerts, clock, telemetry=telemetry)
    if commands is None and start_ingest:
        commands = MqttCommandPublisher(settings.mqtt)
    policy = SnapshotPolicy(settings.snapshot_timeout_s, settings.snapshot_retention_s)
    passwords = passwords or Passwords()
    key = settings.identity_hash_key
    hasher = IdentityHasher(key) if key is not None else None
    qr_signer, qr_verifier = _qr_keys(settings)
    escalation, dispatcher = _notifications(settings, repo, clock, alerts)
    return Hub(
        settings=settings,
        clock=clock,
        repository=repo,
        passwords=passwords,
        tokens=Tokens(settings.jwt_secret, settings.jwt_issuer, settings.token_ttl_s, clock),
        broadcaster=broadcaster,
        alerts=alerts,
        orders=OrderService(repo, clock, hasher, settings.order_release.to_policy()),
        devices=DeviceService(repo, clock),
        sites=SiteService(repo),
        ingest=ingest,
        snapshots=SnapshotService(repo, clock, commands, policy),
        commands=commands,
        citizens=CitizenService(repo, passwords, clock, IdentityHasher(key) if key is not None else None),
        declarations=DeclarationService(repo, clock),
        vaccination=VaccinationService(repo, clock, hasher, bulk_max_rows=settings.vaccination_bulk_max_rows),
        certificates=CertificateService.from_settings(repo, clock, hasher, settings.certificates),
        venues=VenueService(repo, clock, hasher, qr_signer, qr_verifier),
        health_passes=HealthPassService(repo, clock, qr_signer, qr_verifier),
        telemetry=telemetry,
        labs=LabService(repo, clock, hasher),
        tracing=TracingService(repo, clock),
        aggregates=AggregateService(repo, clock, settings.local_utc_offset_minutes),
        escalation=escalation,
        notifications=dispatcher,
        outbox=Outbox(repo, clock),
    )


def _notifications(
    settings: HubSettings, repo: Repository, clock: Clock, alerts: AlertService
) -> tuple[EscalationService | None, Dispatcher]:
    """The escalation sweep (unless disabled) and the outbox's dispatcher with the configured channels."""
    notify = settings.notifications
    escalation = None
    if settings.escalation.enabled:
        escalation = EscalationService(
            repo,
            clock,
            settings.escalation.to_policy(),
            notify,
            alerts.publish,
            interval_s=settings.escalation.sweep_interval_s,
        )
    notifiers: dict[str, Notifier] = {}
    if notify.webhooks:
        notifiers["webhook"] = WebhookNotifier(notify.webhooks, clock, notify.webhook_timeout_s)
    if notify.smtp is not None:
        notifiers["email"] = EmailNotifier(notify.smtp, notify.console_url)
    dispatcher = Dispatcher(
        repo,
        clock,
        notifiers,
        interval_s=notify.dispatch_interval_s,
        retry_base_s=notify.retry_base_s,
        retry_max_s=notify.retry_max_s,
        max_attempts=notify.max_attempts,
        batch_size=notify.batch_size,
        claim_s=notify.claim_s,
    )
    return escalation, dispatcher


def _qr_keys(settings: HubSettings) -> tuple[QrSigner | None, QrVerifier | None]:
    """The venue QR signer and verifier from the key files the settings name (read once, at start-up)."""
    private = settings.venue_qr_key_file.read_bytes() if settings.venue_qr_key_file is not None else None
    return load_qr_keys(private, [path.read_bytes() for path in settings.venue_qr_retired_key_files])


def tune_collector(young_threshold: int = YOUNG_GC_THRESHOLD) -> Callable[[], None]:
    """Set the garbage collector up for a long-running hub; returns the callable that undoes it.

    Everything built so far (modules, the app, the engine: ~120k container objects) lives as long as the
    hub, so it is frozen out of collections. Ingest keeps a few container objects per message alive until its
    batch commits; with CPython's default young-generation threshold (700) a batch's objects are promoted and
    later traversed by full collections. Together that cost about a fifth of ingest's CPU time.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *previous[1:])

    def restore() -> None:
        gc.unfreeze()
        gc.set_threshold(*previous)

    return restore


async def _hub_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.info("integrity error mapped to 409: %s", exc)
    return JSONResponse({"detail": "conflicts with existing records"}, status_code=409)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the request's schema let through: an id beyond a 32-bit key's range on
    # PostgreSQL, say. The caller's mistake, not the hub's.
    log.info("data error mapped to 422: %s", exc)
    return JSONResponse({"detail": "a value is outside the range the hub stores"}, status_code=422)


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program that embeds it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers."""
        yield


class HubServer:
    """The hub (API, SSE and ingest) served by uvicorn inside the caller's event loop, on a loopback port."""

    def __init__(self, settings: HubSettings, **app_options: Any) -> None:
        self.settings = settings
        self.app = create_app(settings, **app_options)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = settings.http_port

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://{self.settings.http_host}:{self.port}"

    @property
    def hub(self) -> Hub:
        """The running hub's services (after start())."""
        hub: Hub = self.app.state.hub
        return hub

    async def start(self) -> None:
        """Bind the port (0: a free one), run the lifespan, and return once requests are served."""
        family = socket.AF_INET6 if ":" in self.settings.http_host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (a proto of 0
        # leaves Nagle on, and every keep-alive response then waited ~40 ms for the client's delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.http_host, self.settings.http_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=3,
            access_log=False,
            # Longer than clients' idle timeouts (httpx: 5 s), so a client never reuses a closing connection.
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="qmon-hub-http")
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # re-raise a start-up exception, if any
                raise RuntimeError("the hub failed to start (see the log)")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop serving, close connections, and run the lifespan's shutdown."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def __aenter__(self) -> HubServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_hub(
    settings: HubSettings,
    *,
    ready: asyncio.Event | None = None,
    on_started: Callable[[HubServer], None] | None = None,
    **app_options: Any,
) -> None:
    """Run the hub in this event loop until cancelled; set `ready` (and call `on_started`) once serving."""
    server = HubServer(settings, **app_options)
    await server.start()
    try:
        if on_started is not None:
            on_started(server)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await asyncio.shield(server.stop())
