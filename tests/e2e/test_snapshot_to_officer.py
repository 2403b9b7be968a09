"""End to end: an officer asks for a snapshot of a facility room over HTTP -> the hub commands the facility's
edge box over MQTT (broker with accounts and the topic ACL) -> the edge blurs its room camera's latest frame
(simulated camera, the repository's YuNet) and answers -> the hub stores it -> the officer gets a JPEG in
which YuNet finds no face, while the camera's unblurred frame at that time has them. Another ward's officer
gets 404. Once on the embedded broker, once on a private Mosquitto.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from cloud.access import Role
from cloud.app import HubServer
from cloud.auth import create_officer
from cloud.settings import HubSettings
from edge.agent import AgentStats, run_edge
from edge.settings import EdgeSettings
from firmware_sim.camera import RoomScene, SimulatedCameraSource
from gateway.acl import MqttRole
from qmon.clock import SystemClock
from qmon.embedded_broker import BrokerAccount, EmbeddedBroker
from tests.integration.cloud.support import PASSWORD, fast_passwords
from tests.support.camera import yunet
from tests.support.services import MosquittoFactory

pytestmark = pytest.mark.slow

SITE, ROOM, WARD = "facility-1", "room-101", "ward-a"
SCENE = RoomScene(id=ROOM, duration_s=20, initial={"person": True, "visitor": True})
TIMEOUT_S = 30.0


@dataclass
class Seen:
    """A frame the simulated camera handed to the edge, and when (wall clock, as the edge's clock)."""

    time: float
    image: Any


class RecordingCamera(SimulatedCameraSource):
    """The simulated room camera, remembering the last frames it delivered: the test's view of the truth."""

    def __init__(self, scene: RoomScene, seen: deque[Seen]) -> None:
        super().__init__(scene)
        self._seen = seen

    def retrieve(self) -> tuple[bool, Any]:
        ok, image = super().retrieve()
        self.labels.clear()  # no history needed (the scene loops)
        if ok:
            self._seen.append(Seen(time.time(), image))
        return ok, image


@dataclass
class Facility:
    hub: HubServer
    http: httpx.AsyncClient
    seen: deque[Seen]
    edge: asyncio.Task[AgentStats]
    tokens: dict[str, str]

    async def call(self, method: str, path: str, officer: str) -> httpx.Response:
        return await self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[officer]}"}
        )


async def until(check: Any, what: str, timeout: float = TIMEOUT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def run_facility(tmp_path: Path, mqtt_url: str, passwords: dict[str, str]) -> AsyncIterator[Facility]:
    settings = HubSettings.model_validate(
        {
            "mqtt": {
                "url": mqtt_url,
                "username": "hub",
                "password": passwords["hub"],
                "client_id": "qmon-hub-e2e",
            },
            "database_url": f"sqlite:///{tmp_path / 'hub.db'}",
            "http_port": 0,
            "jwt_secret": secrets.token_urlsafe(48),
            "snapshot_timeout_s": 20,
        }
    )
    seen: deque[Seen] = deque(maxlen=200)
    edge_settings = EdgeSettings.model_validate(
        {
            "site_id": SITE,
            "mqtt": {"url": mqtt_url, "username": SITE, "password": passwords[SITE], "reconnect_max_s": 2},
            "telemetry_interval_s": 1.0,
            "outbox_path": str(tmp_path / "edge" / "outbox.db"),
            "state_path": str(tmp_path / "edge" / "state.json"),
            "rooms": [{"room_id": ROOM, "source": f"simulated/{ROOM}.avi", "analysis_fps": 5}],
        }
    )
    async with HubServer(settings) as hub:
        repo = hub.hub.repository
        for name, ward in (("officer-a", WARD), ("officer-b", "ward-b")):
            create_officer(
                repo,
                fast_passwords(),
                hub.hub.clock,
                username=name,
                password=PASSWORD,
                role=Role.WARD_OFFICER,
                wards=[ward],
            )
        now = datetime.now(UTC)
        repo.orders.create(
            full_name="Hoang Van E", phone=None, ward_id=WARD, address="Isolation facility 1", site_id=SITE,
            device_id=None, room_id=ROOM, starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=14), created_by="e2e", now=now,
        )  # fmt: skip
        stop = asyncio.Event()
        edge = asyncio.create_task(
            run_edge(
                edge_settings,
                SystemClock(),
                stop=stop,
                source_opener=lambda source: RecordingCamera(SCENE, seen),
            )
        )
        try:
            async with httpx.AsyncClient(base_url=hub.url, timeout=10.0) as http:
                tokens = {}
                for name in ("officer-a", "officer-b"):
                    response = await http.post(
                        "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
                    )
                    assert response.status_code == 200, response.text
                    tokens[name] = response.json()["access_token"]
                yield Facility(hub, http, seen, edge, tokens)
        finally:
            stop.set()
            await asyncio.wait_for(edge, 30)


async def request_and_check_snapshot(facility: Facility) -> None:
    async def camera_seen() -> bool:
        rooms = (await facility.call("GET", "/api/v1/rooms", "officer-a")).json()
        return bool(rooms) and rooms[0]["camera"] == "ok"

    # The room's telemetry reaches the hub: the edge is connected, subscribed to its commands, and sees.
    await until(camera_seen, "the room's camera state at the hub")
    response = await facility.call("POST", f"/api/v1/rooms/{SITE}/{ROOM}/snapshots", "officer-a")
    assert response.status_code == 202, response.text
    location = response.headers["location"]

    async def answered() -> dict[str, Any] | None:
        body: dict[str, Any] = (await facility.call("GET", location, "officer-a")).json()
        return None if body["status"] == "pending" else body

    body = await until(answered, "the edge's answer")
    assert (body["status"], body["error"], body["requested_by"]) == ("ready", None, "officer-a"), body
    assert body["faces_blurred"] == 2

    image = await facility.call("GET", body["image_url"], "officer-a")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(image.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (SCENE.height, SCENE.width, 3)
    assert yunet(0.5).detect(picture) == [], "a face is still visible in the snapshot"

    # The frame the camera delivered when the snapshot was taken, unblurred, shows both faces.
    taken = datetime.fromisoformat(body["taken_at"]).timestamp()
    frame = max((s for s in facility.seen if s.time <= taken), key=lambda s: s.time)
    assert taken - frame.time < 0.5
    assert len(yunet().detect(frame.image)) == 2
    # ... and it is that frame: away from the faces, the snapshot is the same picture.
    top = (slice(0, SCENE.height // 4), slice(0, SCENE.width))
    assert np.abs(picture[top].astype(int) - frame.image[top].astype(int)).mean() < 8

    for path in (location, body["image_url"]):
        assert (await facility.call("GET", path, "officer-b")).status_code == 404
    refused = await facility.call("POST", f"/api/v1/rooms/{SITE}/{ROOM}/snapshots", "officer-b")
    assert refused.status_code == 404
    ingest = facility.hub.hub.ingest
    assert ingest is not None and ingest.snapshot()["snapshots"] == 1


def accounts() -> dict[str, str]:
    return {user: secrets.token_urlsafe(24) for user in ("hub", SITE)}


async def test_snapshot_through_the_embedded_broker(tmp_path: Path) -> None:
    passwords = accounts()
    broker = EmbeddedBroker(
        accounts=[
            BrokerAccount("hub", passwords["hub"], MqttRole.HUB),
            BrokerAccount(SITE, passwords[SITE], MqttRole.SITE),
        ]
    )
    await broker.start()
    try:
        async with run_facility(tmp_path, broker.url, passwords) as facility:
            await request_and_check_snapshot(facility)
        assert facility.edge.result().snapshots == {"ready": 1}
    finally:
        await broker.stop()


async def test_snapshot_through_mosquitto_with_acl(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    passwords = accounts()
    broker = mosquitto_factory.start(accounts=passwords, hub_users=["hub"])
    async with run_facility(tmp_path, broker.url, passwords) as facility:
        await request_and_check_snapshot(facility)
    assert facility.edge.result().snapshots == {"ready": 1}
