"""The live alert feed over a real uvicorn server: changes arrive, Last-Event-ID replays, wards filter."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cloud.access import Role
from cloud.app import HubServer
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from gateway.protocol import EventType
from qmon.clock import ManualClock
from tests.integration.cloud.support import PASSWORD, event_message, fast_passwords, seed_officer, seed_order
from tests.unit.cloud.builders import T0


class SseReader:
    """Reads SSE frames (dicts of field -> value; comments under ':') from a streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: AsyncIterator[str] = response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> dict[str, str]:
        frame: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if not line:
                    if frame:
                        return frame
                    continue
                field, _, value = line.partition(":")
                frame[field or ":"] = value.strip()
        raise AssertionError("stream ended")

    async def next_event(self, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
        while True:
            frame = await self.next(timeout)
            if "data" in frame:
                assert frame["event"] == "alert"
                return int(frame["id"]), json.loads(frame["data"])


@pytest.fixture
async def server(sqlite_repo: Repository) -> AsyncIterator[HubServer]:
    seed_officer(sqlite_repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_officer(sqlite_repo, "officer-b", Role.WARD_OFFICER, ["ward-b"])
    seed_order(sqlite_repo)
    settings = HubSettings(
        jwt_secret="an-sse-test-signing-key-long-enough", http_port=0, auto_migrate=False, sse_keepalive_s=0.2
    )
    hub_server = HubServer(
        settings,
        repository=sqlite_repo,
        start_ingest=False,
        passwords=fast_passwords(),
        clock=ManualClock(T0.timestamp() + 3600),
    )
    async with hub_server:
        assert hub_server.hub.ingest is not None
        hub_server.hub.ingest.start(connect=False)  # messages are submitted directly, no broker
        yield hub_server


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    response = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_stream_delivers_changes_keeps_alive_and_replays_from_last_event_id(server: HubServer) -> None:
    ingest = server.hub.ingest
    assert ingest is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        auth = await login(http, "officer-a")
        async with http.stream("GET", "/api/v1/alerts/stream", headers=auth) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = SseReader(response)
            assert (await reader.next())[":"] == "connected"  # subscribed from here on
            ingest.submit(*event_message(EventType.LEFT_HOME, 1))
            opened_id, opened = await reader.next_event()
            assert opened["kind"] == "opened" and opened["alert"]["type"] == "left_home"
            alert_id = opened["alert"]["id"]
            ack = await http.post(
                f"/api/v1/alerts/{alert_id}/acknowledge", headers=auth, json={"note": "on it"}
            )
            assert ack.status_code == 200
            acked_id, acked = await reader.next_event()
            assert acked_id > opened_id and acked["kind"] == "acknowledged"
            assert acked["alert"]["acknowledged_by"] == "officer-a"
            assert (await reader.next())[":"] == "keep-alive"
        replay_headers = {**auth, "Last-Event-ID": str(opened_id)}
        async with http.stream("GET", "/api/v1/alerts/stream", headers=replay_headers) as response:
            reader = SseReader(response)
            assert (await reader.next())[":"] == "connected"
            replayed_id, replayed = await reader.next_event()
            assert (replayed_id, replayed["kind"]) == (acked_id, "acknowledged")


async def test_stream_of_another_ward_carries_nothing(server: HubServer) -> None:
    ingest = server.hub.ingest
    assert ingest is not None
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        auth_b = await login(http, "officer-b")
        headers = {**auth_b, "Last-Event-ID": "0"}
        async with http.stream("GET", "/api/v1/alerts/stream", headers=headers) as response:
            reader = SseReader(response)
            assert (await reader.next())[":"] == "connected"
            ingest.submit(*event_message(EventType.STRAP_OPENED, 1))
            assert await asyncio.to_thread(ingest.wait_until, lambda c: c.alerts_opened == 1)
            for _ in range(3):  # only keep-alives: ward A's alert never reaches ward B
                assert (await reader.next()) == {":": "keep-alive"}
        unauthenticated = await http.get("/api/v1/alerts/stream")
        assert unauthenticated.status_code == 401
