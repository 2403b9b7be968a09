"""Across the parts: an edge uplink and the hub's ingest through a Mosquitto that goes down and comes back.

Events emitted while the broker is down wait in the edge's outbox; after the broker returns they reach the
hub in order, and the hub stores each exactly once (re-deliveries are counted as duplicates, not stored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cloud.alerts import AlertService
from cloud.ingest import Ingest
from cloud.settings import HubSettings
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from cloud.storage.schema import events
from gateway.mqtt_uplink import MqttUplink
from gateway.outbox import Outbox
from gateway.protocol import EventType
from gateway.settings import MqttSettings
from qmon.clock import SystemClock
from tests.integration.cloud.support import seed_order
from tests.support.services import MosquittoFactory

SITE = "home-0001"
DEVICES = ("0a000001", "0a000002")


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url)
    repository = Repository.from_url(url)
    yield repository
    repository.close()


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_broker_outage_loses_nothing_and_the_hub_stores_each_event_once(
    tmp_path: Path, mosquitto_factory: MosquittoFactory, repo: Repository
) -> None:
    broker = mosquitto_factory.start(persistent=True)
    for device in DEVICES:
        seed_order(repo, device_id=device, site_id=SITE, starts=datetime.now(UTC) - timedelta(hours=1))
    clock = SystemClock()
    # Reconnect attempts at most 2 s apart, like the uplink's below: paho's backoff (1, 2, 4, 8 ... s) could
    # otherwise put the hub's next attempt past the wait when the broker is slow to restart on a busy machine.
    settings = HubSettings(
        jwt_secret="an-outage-test-signing-key-long-enough",
        mqtt={"url": broker.url, "reconnect_max_s": 2},
    )
    ingest = Ingest(settings, repo, AlertService(repo, clock), clock, telemetry=repo.telemetry_store())
    ingest.start()
    outbox = Outbox(tmp_path / "outbox.db", clock)
    uplink = MqttUplink(
        MqttSettings(url=broker.url, keepalive_s=5, reconnect_min_s=1, reconnect_max_s=2), SITE, outbox, clock
    )
    await uplink.start()
    try:
        assert await asyncio.to_thread(ingest.wait_connected, 10)
        assert await uplink.wait_connected(10)
        sent = [
            uplink.emit_event(DEVICES[i % 2], EventType.LEFT_HOME, time.time(), {"i": i}) for i in range(4)
        ]
        await _until(lambda: ingest.snapshot()["stored"] == 4, 15, "the first events")

        broker.stop()  # Mosquitto saves the hub's session and goes away
        await _until(lambda: not uplink.connected, 15, "the uplink to notice the outage")
        sent += [
            uplink.emit_event(DEVICES[i % 2], EventType.FEVER, time.time(), {"i": i}) for i in range(4, 24)
        ]
        assert uplink.stats().events_pending == 20

        broker = mosquitto_factory.restart(broker)
        await _until(lambda: ingest.snapshot()["stored"] == 24, 30, "the events of the outage")
        assert await uplink.drain(10)
    finally:
        await uplink.stop()
        outbox.close()
        ingest.stop()
        ingest.close()

    with repo.engine.connect() as conn:
        rows = conn.execute(select(events.c.event_id, events.c.device_id, events.c.seq)).all()
    assert sorted(str(r.event_id) for r in rows) == sorted(str(e.event_id) for e in sent)  # each once
    for device in DEVICES:
        assert sorted(r.seq for r in rows if r.device_id == device) == list(range(1, 13))
    assert ingest.snapshot()["rejected"] == {}
    opened = {(a.device_id, a.type) for a in repo.alerts.list(wards=None)}
    assert {(d, t) for d in DEVICES for t in ("left_home", "fever")} <= opened
