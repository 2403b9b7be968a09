"""The whole hub in one event loop: serve_hub with ingest over Mosquitto, the REST API and health."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import httpx
import pytest

from cloud.access import Role
from cloud.app import YOUNG_GC_THRESHOLD, HubServer, create_app, serve_hub
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from gateway.protocol import EventType
from tests.integration.cloud.support import PASSWORD, event_message, seed_officer, seed_order
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoInstance


def test_create_app_does_nothing_until_started(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "yet"
    settings = HubSettings(jwt_secret="x" * 40, database_url=f"sqlite:///{missing}/hub.db")
    create_app(settings)
    assert not missing.exists()  # no engine, no file, no connection at construction


@pytest.mark.mosquitto
async def test_serve_hub_runs_ingest_api_and_health(mosquitto: MosquittoInstance, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'hub.db'}"
    settings = HubSettings(
        jwt_secret="an-app-test-signing-key-long-enough",
        database_url=url,
        http_port=0,
        mqtt={"url": mosquitto.url, "client_id": "hub-app", "protocol": "5"},
    )
    ready = asyncio.Event()
    servers: list[HubServer] = []
    task = asyncio.create_task(serve_hub(settings, ready=ready, on_started=servers.append))
    await asyncio.wait_for(ready.wait(), 15)  # migrations ran (auto_migrate) and the port is bound
    server = servers[0]
    repo: Repository = server.hub.repository
    seed_officer(repo, "officer-a", Role.WARD_OFFICER, ["ward-a"])
    seed_order(repo)
    ingest = server.hub.ingest
    assert ingest is not None and await asyncio.to_thread(ingest.wait_connected, 10)
    pub = await asyncio.to_thread(lambda: TestClient(mosquitto.port).start())
    try:
        await asyncio.to_thread(pub.publish, *event_message(EventType.BRACELET_REMOVED, 1))
        assert await asyncio.to_thread(ingest.wait_until, lambda c: c.alerts_opened == 1, 10)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.status_code == 200 and health.json()["mqtt"] is True
            token = await http.post(
                "/api/v1/auth/token", data={"username": "officer-a", "password": PASSWORD}
            )
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            (alert,) = (await http.get("/api/v1/alerts", headers=auth)).json()["items"]
            assert alert["type"] == "tamper" and alert["ward_id"] == "ward-a"
    finally:
        await asyncio.to_thread(pub.stop)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not ingest.running


async def test_health_is_degraded_while_the_broker_is_unreachable(tmp_path: Path) -> None:
    settings = HubSettings(
        jwt_secret="an-app-test-signing-key-long-enough",
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        http_port=0,
        mqtt={"url": "mqtt://127.0.0.1:9", "client_id": "hub-nobroker"},
    )
    async with HubServer(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        health = await http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"] is True and health.json()["mqtt"] is False


async def test_the_hub_tunes_the_garbage_collector_while_it_runs_and_restores_it(tmp_path: Path) -> None:
    settings = HubSettings(
        jwt_secret="an-app-test-signing-key-long-enough",
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        http_port=0,
        mqtt={"url": "mqtt://127.0.0.1:9", "client_id": "hub-gc"},
    )
    before = gc.get_threshold()
    async with HubServer(settings, start_ingest=False):
        assert gc.get_threshold()[0] == YOUNG_GC_THRESHOLD and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
