"""The hub's ingest writing MQTT telemetry into a real VictoriaMetrics, and surviving its outage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloud.alerts import AlertService
from cloud.app import create_app
from cloud.ingest import Ingest, IngestCounters
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from cloud.storage.telemetry import RoomTelemetryPoint
from cloud.telemetry.influx import InfluxTelemetryStore
from gateway.protocol import Channel, EventType, TelemetryMessage, encode_message, topic_for
from qmon.clock import ManualClock
from tests.integration.cloud.support import event_message, seed_order
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoInstance, VictoriaFactory, VictoriaInstance
from tests.unit.cloud.builders import DEVICE, SITE, T0

pytestmark = [pytest.mark.mosquitto, pytest.mark.victoria]

JWT_SECRET = "a-telemetry-test-signing-key-long-enough"
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # within the server's retention


def telemetry(seconds: float, battery: int = 80, rooms: bool = False) -> tuple[str, bytes]:
    """(topic, payload) of a telemetry batch: one bracelet reading (and a room's) at NOW + seconds."""
    at = NOW + timedelta(seconds=seconds)
    reading = {
        "device_id": DEVICE,
        "time": at,
        "presence": "home",
        "rssi": -63.5,
        "distance_m": 2.0,
        "battery": battery,
        "heart_rate": 70,
        "skin_temp_c": 36.5,
        "strap_closed": True,
        "skin_contact": True,
        "charging": False,
        "adverts": 10,
    }
    room = {
        "room_id": "room-101",
        "time": at,
        "faces": 2,
        "allowed": 1,
        "person_present": True,
        "camera": "ok",
        "brightness": 120.0,
        "fps": 5.0,
        "detections": 25,
    }
    message = TelemetryMessage.model_validate(
        {"site_id": SITE, "time": at, "readings": [reading], "rooms": [room] if rooms else []}
    )
    return topic_for(SITE, Channel.TELEMETRY), encode_message(message)


def hub_settings(mosquitto: MosquittoInstance, victoria: VictoriaInstance, tmp_path: Path) -> HubSettings:
    return HubSettings(
        jwt_secret=JWT_SECRET,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        mqtt={"url": mosquitto.url, "client_id": "hub-telemetry-test"},
        ingest_receiver="thread",
        telemetry={"backend": "influx", "url": victoria.url, "retention_days": 30},
    )


def wait(ingest: Ingest, predicate: Callable[[IngestCounters], bool]) -> dict[str, Any]:
    assert ingest.wait_until(predicate, 15), ingest.snapshot()
    return ingest.snapshot()


def failures_reach(count: int) -> Callable[[IngestCounters], bool]:
    return lambda c: c.telemetry_failures == count


async def test_the_hub_writes_mqtt_telemetry_to_victoria_and_reads_it_back(
    mosquitto: MosquittoInstance, victoria: VictoriaInstance, tmp_path: Path
) -> None:
    app = create_app(hub_settings(mosquitto, victoria, tmp_path))
    async with app.router.lifespan_context(app):
        hub = app.state.hub
        assert isinstance(hub.telemetry, InfluxTelemetryStore)  # built from the settings
        assert await asyncio.to_thread(hub.ingest.wait_connected, 10)
        pub = await asyncio.to_thread(TestClient(mosquitto.port).start)
        try:
            for i in range(3):
                pub.publish(*telemetry(i, battery=90 - i, rooms=i == 2), qos=0)
            await asyncio.to_thread(wait, hub.ingest, lambda c: c.telemetry_points == 4)
        finally:
            pub.stop()
        victoria.flush()
        points = await asyncio.to_thread(hub.telemetry.query, DEVICE, NOW - timedelta(minutes=1))
        rooms = await asyncio.to_thread(hub.telemetry.query_room, SITE, "room-101", NOW)
    assert [p.time for p in points] == [NOW + timedelta(seconds=i) for i in range(3)]
    assert [p.values["battery"] for p in points] == [90, 89, 88]
    assert points[0].site_id == SITE and points[0].values["presence"] == "home"
    assert points[0].values["rssi"] == -63.5 and points[0].values["strap_closed"] is True
    assert rooms == [
        RoomTelemetryPoint(
            SITE,
            "room-101",
            NOW + timedelta(seconds=2),
            {
                "faces": 2,
                "allowed": 1,
                "person_present": True,
                "brightness": 120.0,
                "fps": 5.0,
                "detections": 25,
                "camera": "ok",
            },
        )
    ]


def test_events_keep_flowing_while_victoria_is_down_and_telemetry_resumes_after(
    mosquitto: MosquittoInstance,
    victoria_factory: VictoriaFactory,
    victoria: VictoriaInstance,
    sqlite_repo: Repository,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed_order(sqlite_repo)
    settings = hub_settings(mosquitto, victoria, tmp_path)
    clock = ManualClock(T0.timestamp() + 3600)
    store = InfluxTelemetryStore(victoria.url, timeout_s=2)
    ingest = Ingest(settings, sqlite_repo, AlertService(sqlite_repo, clock), clock, telemetry=store)
    pub = TestClient(mosquitto.port).start()
    ingest.start()
    try:
        assert ingest.wait_connected(10)
        pub.publish(*telemetry(0, battery=80), qos=0)
        wait(ingest, lambda c: c.telemetry_points == 1)

        victoria.stop()
        with caplog.at_level(logging.WARNING, logger="cloud.ingest"):
            for i in range(1, 4):
                pub.publish(*telemetry(i, battery=80 - i), qos=0)
                wait(ingest, failures_reach(i))
            pub.publish(*event_message(EventType.LEFT_HOME, 1))
            counters = wait(ingest, lambda c: c.stored == 1 and c.alerts_opened == 1)
            assert counters["telemetry_dropped"] == 3 and counters["telemetry_points"] == 1
            assert counters["readings"] == 4  # the hub's own view of the devices still updates

            victoria = victoria_factory.restart(victoria)
            pub.publish(*telemetry(10, battery=70), qos=0)
            wait(ingest, lambda c: c.telemetry_points == 2)
        failures = [r for r in caplog.records if "telemetry write failed" in r.getMessage()]
        assert len(failures) == 1  # logged once per outage, counted per batch
        assert any("succeed again" in r.getMessage() for r in caplog.records)
        device = sqlite_repo.devices.get(DEVICE)
        assert device is not None and device.last_battery == 70
    finally:
        ingest.stop()
        ingest.close()
        pub.stop()
        store.close()

    victoria.flush()
    store = InfluxTelemetryStore(victoria.url)
    try:
        found = store.query(DEVICE, NOW - timedelta(minutes=1))
    finally:
        store.close()
    assert [p.values["battery"] for p in found] == [80, 70]  # before the outage (kept on disk) and after
