"""Builders for the hub's integration tests: wire messages, seeded records, fast password hashing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI

from cloud.access import Role
from cloud.app import create_app
from cloud.auth import Passwords, create_officer
from cloud.settings import HubSettings
from cloud.storage.records import Officer, Order
from cloud.storage.repository import Repository
from gateway.protocol import (
    Channel,
    CommandMessage,
    EventMessage,
    EventType,
    SiteState,
    SnapshotError,
    SnapshotMessage,
    StatusMessage,
    TelemetryMessage,
    encode_jpeg,
    encode_message,
    topic_for,
)
from qmon.clock import ManualClock
from tests.unit.cloud.builders import DEVICE, ROOM, SITE, T0, at

FACILITY = "facility-1"
PASSWORD = "correct horse battery staple"
TEST_JWT_SECRET = "an-api-test-signing-key-long-enough"
# A JPEG's framing around some bytes: all the hub checks and stores (it never decodes the picture).
SNAPSHOT_JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"


class FakeCommandSender:
    """The hub's CommandSender port for tests: keeps what it was given; `accept=False` refuses everything."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.sent: list[CommandMessage] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def send(self, command: CommandMessage) -> bool:
        if self.accept:
            self.sent.append(command)
        return self.accept


def snapshot_message(
    command: CommandMessage,
    *,
    jpeg: bytes | None = SNAPSHOT_JPEG,
    error: SnapshotError | None = None,
    faces_blurred: int | None = 1,
    site_id: str | None = None,
    room_id: str | None = None,
    taken_at: datetime | None = None,
) -> tuple[str, bytes]:
    """(topic, payload) of an edge's answer to `command`: a picture, or with `error` a refusal."""
    site = site_id or command.site_id
    message = SnapshotMessage(
        command_id=command.command_id,
        site_id=site,
        room_id=room_id or command.room_id,
        time=taken_at or command.time,
        faces_blurred=None if error is not None else faces_blurred,
        error=error,
        jpeg=None if error is not None or jpeg is None else encode_jpeg(jpeg),
    )
    return topic_for(site, Channel.SNAPSHOTS), encode_message(message)


def fast_passwords() -> Passwords:
    """Argon2id with tiny parameters: tests hash many passwords."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def event_message(
    type: EventType | str = EventType.LEFT_HOME,
    seq: int = 1,
    *,
    site_id: str = SITE,
    device_id: str = DEVICE,
    time: datetime | None = None,
    data: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
) -> tuple[str, bytes]:
    """(topic, payload) of one valid event."""
    message = EventMessage(
        event_id=event_id or uuid.uuid4(),
        site_id=site_id,
        device_id=device_id,
        seq=seq,
        type=EventType(type),
        time=time or at(seq),
        data=data or {},
    )
    return topic_for(site_id, Channel.EVENTS), encode_message(message)


def room_event_message(
    type: EventType | str,
    seq: int,
    *,
    room_id: str = ROOM,
    site_id: str = FACILITY,
    data: dict[str, Any] | None = None,
) -> tuple[str, bytes]:
    """(topic, payload) of one valid event about a facility room."""
    message = EventMessage(
        event_id=uuid.uuid4(),
        site_id=site_id,
        room_id=room_id,
        seq=seq,
        type=EventType(type),
        time=at(seq),
        data=data or {},
    )
    return topic_for(site_id, Channel.EVENTS), encode_message(message)


def room_telemetry_message(
    faces: int, camera: str = "ok", *, seconds: float = 9, room_id: str = ROOM, site_id: str = FACILITY
) -> tuple[str, bytes]:
    """(topic, payload) of a telemetry batch with one room reading and no bracelet."""
    message = TelemetryMessage.model_validate(
        {
            "site_id": site_id,
            "time": at(seconds + 1),
            "rooms": [
                {
                    "room_id": room_id,
                    "time": at(seconds),
                    "faces": faces,
                    "allowed": 1,
                    "person_present": faces > 0,
                    "camera": camera,
                    "brightness": 120.5,
                    "fps": 5.0,
                    "detections": 12,
                }
            ],
        }
    )
    return topic_for(site_id, Channel.TELEMETRY), encode_message(message)


def status_message(state: SiteState, seconds: float, site_id: str = SITE) -> tuple[str, bytes]:
    """(topic, payload) of a site status."""
    message = StatusMessage(site_id=site_id, state=state, time=at(seconds), reason="test")
    return topic_for(site_id, Channel.STATUS), encode_message(message)


def telemetry_message(site_id: str = SITE, device_id: str = DEVICE, battery: int = 80) -> tuple[str, bytes]:
    """(topic, payload) of a telemetry batch with one reading."""
    message = TelemetryMessage.model_validate(
        {
            "site_id": site_id,
            "time": at(10),
            "readings": [
                {
                    "device_id": device_id,
                    "time": at(9),
                    "presence": "home",
                    "rssi": -63.5,
                    "battery": battery,
                    "strap_closed": True,
                    "skin_contact": True,
                    "charging": False,
                    "adverts": 10,
                }
            ],
        }
    )
    return topic_for(site_id, Channel.TELEMETRY), encode_message(message)


def seed_order(
    repo: Repository,
    *,
    ward: str = "ward-a",
    device_id: str = DEVICE,
    site_id: str = SITE,
    full_name: str = "Nguyen Van A",
    starts: datetime | None = None,
    days: int = 14,
) -> Order:
    """Register the device (if needed) and open an active order for it."""
    if repo.devices.get(device_id) is None:
        repo.devices.register(device_id, "bracelet", T0)
    start = starts or T0 - timedelta(hours=1)
    return repo.orders.create(
        full_name=full_name,
        phone=None,
        ward_id=ward,
        address="12 Hang Bac",
        site_id=site_id,
        device_id=device_id,
        starts_at=start,
        ends_at=start + timedelta(days=days),
        created_by="seed",
        now=T0,
    )


def seed_room_order(
    repo: Repository,
    *,
    ward: str = "ward-a",
    room_id: str = ROOM,
    site_id: str = FACILITY,
    full_name: str = "Le Thi C",
    starts: datetime | None = None,
    days: int = 14,
) -> Order:
    """Open an active order watched by a facility room's camera."""
    start = starts or T0 - timedelta(hours=1)
    return repo.orders.create(
        full_name=full_name,
        phone=None,
        ward_id=ward,
        address="Isolation facility 1",
        site_id=site_id,
        device_id=None,
        room_id=room_id,
        starts_at=start,
        ends_at=start + timedelta(days=days),
        created_by="seed",
        now=T0,
    )


def seed_officer(repo: Repository, username: str, role: Role, wards: list[str]) -> Officer:
    """An officer account with PASSWORD."""
    return create_officer(
        repo,
        fast_passwords(),
        ManualClock(T0.timestamp()),
        username=username,
        password=PASSWORD,
        role=role,
        wards=wards,
    )


class LoggedIn:
    """An HTTP client on the hub that signs each user in once (PASSWORD) and keeps their token."""

    prefix = ""  # put before every path given to get and post (e.g. "/api/v1")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._tokens: dict[str, str] = {}

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        """One sign-in attempt through the token endpoint."""
        return await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})

    async def headers(self, username: str) -> dict[str, str]:
        """The bearer header of `username`, signing in on first use."""
        if username not in self._tokens:
            response = await self.login(username)
            assert response.status_code == 200, response.text
            self._tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._tokens[username]}"}

    def forget_tokens(self) -> None:
        """Sign everyone in again on their next request (tokens issued before have expired)."""
        self._tokens.clear()

    async def get(self, path: str, as_: str, **kwargs: Any) -> httpx.Response:
        """GET `prefix + path` as `as_` (httpx's keyword arguments pass through)."""
        return await self.client.get(self.prefix + path, headers=await self.headers(as_), **kwargs)

    async def post(self, path: str, as_: str, **kwargs: Any) -> httpx.Response:
        """POST `prefix + path` as `as_`."""
        return await self.client.post(self.prefix + path, headers=await self.headers(as_), **kwargs)


NO_RATE_LIMITS = {
    name: "1000000/minute"
    for name in ("sign_in_client", "sign_in_account", "registration", "lookup", "verify")
}


@asynccontextmanager
async def hub_http(repo: Repository, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The hub app on `repo` (lifespan running, no ingest) and an HTTP client talking to it in process.

    Rate limits are lifted unless `rate_limits` is given: every test client shares one address."""
    settings.setdefault("rate_limits", NO_RATE_LIMITS)
    hub_settings = HubSettings(
        jwt_secret=TEST_JWT_SECRET, database_url="sqlite:///unused.db", auto_migrate=False, **settings
    )
    app = create_app(
        hub_settings,
        clock=ManualClock(T0.timestamp() + 3600),
        repository=repo,
        start_ingest=False,
        passwords=fast_passwords(),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://hub") as client,
    ):
        yield client, app
