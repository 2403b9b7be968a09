"""MQTT ingest against a private Mosquitto and the embedded amqtt broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from cloud.alerts import AlertService
from cloud.ingest import Ingest, IngestCounters
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from gateway.protocol import EventType, SiteState
from qmon.clock import ManualClock
from qmon.embedded_broker import EmbeddedBroker
from tests.integration.cloud.support import event_message, seed_order, status_message, telemetry_message
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoInstance
from tests.unit.cloud.builders import DEVICE, SITE, T0


def hub_settings(
    url: str, protocol: str = "3.1.1", client_id: str = "hub-test", receiver: str = "process"
) -> HubSettings:
    return HubSettings(
        jwt_secret="an-ingest-test-signing-key-long-enough",
        mqtt={"url": url, "client_id": client_id, "protocol": protocol},
        ingest_receiver=receiver,
        site_sweep_interval_s=0.2,  # the clock is an hour past the site's offline status: due at once
    )


@contextmanager
def running_ingest(settings: HubSettings, repo: Repository) -> Iterator[Ingest]:
    clock = ManualClock(T0.timestamp() + 3600)
    ingest = Ingest(settings, repo, AlertService(repo, clock), clock, telemetry=repo.telemetry_store())
    ingest.start()
    try:
        assert ingest.wait_connected(10), "ingest did not connect"
        yield ingest
    finally:
        ingest.stop()
        ingest.close()


def publisher(port: int) -> TestClient:
    return TestClient(port).start()


def wait(ingest: Ingest, predicate: Callable[[IngestCounters], bool]) -> dict[str, Any]:
    assert ingest.wait_until(predicate, 15), ingest.snapshot()
    return ingest.snapshot()


def exercise(ingest: Ingest, pub: TestClient, repo: Repository) -> None:
    """Valid events, a duplicate, reordering, bad input, status and telemetry through the broker."""
    left = event_message(EventType.LEFT_HOME, 10)
    for topic, payload in (event_message(EventType.RETURNED_HOME, 11), left, left):
        pub.publish(topic, payload)
    wait(ingest, lambda c: c.stored + c.duplicates >= 3)
    topic, payload = event_message(EventType.STRAP_OPENED, 12)
    pub.publish(topic, b"{broken json")
    pub.publish(topic, payload.replace(SITE.encode(), b"home-0002"))
    pub.publish("qmon/v1/sites/Bad_Site/events", payload)
    pub.publish(topic, payload)
    pub.publish(*status_message(SiteState.OFFLINE, 30))
    pub.publish(*telemetry_message(battery=33), qos=0)
    counters = wait(
        ingest, lambda c: c.stored == 3 and c.statuses == 1 and c.readings == 1 and c.alerts_opened == 3
    )
    assert counters["duplicates"] == 1
    assert counters["rejected"] == {"invalid_json": 1, "site_mismatch": 1, "bad_topic": 1}
    assert (
        counters["alerts_opened"] == 3 and counters["acked"] >= counters["processed"] - 1
    )  # telemetry: QoS 0
    by_type = {a.type: a for a in repo.alerts.list(wards=None)}
    assert set(by_type) == {"left_home", "tamper", "hub_offline"}
    assert by_type["left_home"].active is False  # returned_home (seq 11) arrived before left_home (seq 10)
    assert repo.dead_letters.count() == 3
    device = repo.devices.get(DEVICE)
    assert device is not None and device.last_battery == 33


@pytest.mark.mosquitto
@pytest.mark.parametrize("receiver", ["process", "thread"])
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_ingest_through_mosquitto(
    mosquitto: MosquittoInstance, sqlite_repo: Repository, protocol: str, receiver: str
) -> None:
    seed_order(sqlite_repo)
    pub = publisher(mosquitto.port)
    try:
        with running_ingest(hub_settings(mosquitto.url, protocol, receiver=receiver), sqlite_repo) as ingest:
            exercise(ingest, pub, sqlite_repo)
            assert ingest.connected
    finally:
        pub.stop()


async def test_ingest_through_the_embedded_broker(
    embedded_broker: EmbeddedBroker, sqlite_repo: Repository
) -> None:
    seed_order(sqlite_repo)
    pub = await asyncio.to_thread(publisher, embedded_broker.port)

    def run() -> None:
        with running_ingest(hub_settings(embedded_broker.url), sqlite_repo) as ingest:
            exercise(ingest, pub, sqlite_repo)

    try:
        await asyncio.to_thread(run)  # the broker runs on this test's event loop
    finally:
        await asyncio.to_thread(pub.stop)


@pytest.mark.mosquitto
@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_events_published_while_the_hub_is_down_arrive_after_restart(
    mosquitto: MosquittoInstance, repo: Repository, protocol: str
) -> None:
    seed_order(repo)
    settings = hub_settings(mosquitto.url, protocol, client_id="hub-restart")
    with running_ingest(settings, repo):
        pass  # the broker now holds a persistent session for the hub
    pub = publisher(mosquitto.port)
    try:
        for seq in range(1, 6):
            pub.publish(*event_message(EventType.LEFT_HOME, seq))
    finally:
        pub.stop()
    with running_ingest(settings, repo) as ingest:
        wait(ingest, lambda c: c.stored == 5)
    (alert,) = repo.alerts.list(wards=None)
    assert alert.event_count == 5


@pytest.mark.mosquitto
@pytest.mark.parametrize("receiver", ["process", "thread"])
def test_a_crash_before_commit_loses_nothing(
    mosquitto: MosquittoInstance, sqlite_repo: Repository, receiver: str
) -> None:
    seed_order(sqlite_repo)
    settings = hub_settings(mosquitto.url, "5", client_id="hub-crash", receiver=receiver)
    pub = publisher(mosquitto.port)
    try:
        with running_ingest(settings, sqlite_repo) as ingest:

            def database_down(*args: Any, **kwargs: Any) -> Any:
                raise OperationalError("INSERT", {}, Exception("database is down"))

            ingest.processor.process = database_down  # type: ignore[method-assign]
            pub.publish(*event_message(EventType.FEVER, 1))
            wait(ingest, lambda c: c.db_retries >= 2)
        # stopped before anything was committed: nothing was acknowledged to the broker
        assert sqlite_repo.events.count() == 0
        with running_ingest(settings, sqlite_repo) as ingest:
            wait(ingest, lambda c: c.stored == 1)
    finally:
        pub.stop()
    assert [a.type for a in sqlite_repo.alerts.list(wards=None)] == ["fever"]


def test_bad_input_submitted_directly_never_stops_the_worker(sqlite_repo: Repository) -> None:
    seed_order(sqlite_repo)
    settings = hub_settings("mqtt://127.0.0.1:9")  # never connected: messages are submitted directly
    clock = ManualClock(T0.timestamp() + 3600)
    ingest = Ingest(settings, sqlite_repo, AlertService(sqlite_repo, clock), clock)
    ingest.start(connect=False)
    try:
        topic, payload = event_message(EventType.BATTERY_LOW, 1)
        ingest.submit("qmon/v1/sites/home-0001/firmware", payload)  # unknown channel
        ingest.submit(topic, b"\x00\xff not utf-8")
        ingest.submit(topic, payload)
        assert ingest.wait_idle(10)
        counters = ingest.snapshot()
        assert counters["rejected"] == {"unknown_channel": 1, "invalid_json": 1} and counters["stored"] == 1
    finally:
        ingest.stop()
        ingest.close()


def test_a_message_that_breaks_processing_is_dead_lettered_alone(
    sqlite_repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloud.processor

    real_evaluate = cloud.processor.evaluate

    def buggy_evaluate(event: Any, *args: Any) -> Any:
        if event.device_id == "0000dead":
            raise ZeroDivisionError("a bug in a rule")
        return real_evaluate(event, *args)

    monkeypatch.setattr(cloud.processor, "evaluate", buggy_evaluate)
    seed_order(sqlite_repo)
    clock = ManualClock(T0.timestamp() + 3600)
    ingest = Ingest(hub_settings("mqtt://127.0.0.1:9"), sqlite_repo, AlertService(sqlite_repo, clock), clock)
    ingest.start(connect=False)
    try:
        ingest.submit(*event_message(EventType.LEFT_HOME, 1))
        ingest.submit(*event_message(EventType.LEFT_HOME, 1, device_id="0000dead"))
        ingest.submit(*event_message(EventType.STRAP_OPENED, 2))
        assert ingest.wait_idle(10)
        counters = ingest.snapshot()
        assert counters["rejected"] == {"processing_error": 1} and counters["stored"] == 2
    finally:
        ingest.stop()
        ingest.close()
    (letter,) = sqlite_repo.dead_letters.list()
    assert letter.reason.startswith("processing_error: ZeroDivisionError: a bug in a rule")
    assert {a.type for a in sqlite_repo.alerts.list(wards=None)} == {"left_home", "tamper"}


@pytest.mark.mosquitto
def test_hub_replicas_share_the_subscription_on_mosquitto(
    mosquitto: MosquittoInstance, repo: Repository
) -> None:
    seed_order(repo)
    base = hub_settings(mosquitto.url, "5")
    replicas = [
        base.model_copy(
            update={
                "shared_subscription_group": "hubs",
                "mqtt": base.mqtt.model_copy(update={"client_id": f"hub-{i}"}),
            }
        )
        for i in range(2)
    ]
    pub = publisher(mosquitto.port)
    try:
        with running_ingest(replicas[0], repo) as first, running_ingest(replicas[1], repo) as second:
            for seq in range(1, 21):
                pub.publish(*event_message(EventType.LEFT_HOME if seq % 2 else EventType.STRAP_OPENED, seq))
            deadline = time.monotonic() + 15
            while (
                first.snapshot()["stored"] + second.snapshot()["stored"] < 20 and time.monotonic() < deadline
            ):
                time.sleep(0.02)
            shares = (first.snapshot()["stored"], second.snapshot()["stored"])
    finally:
        pub.stop()
    assert sum(shares) == 20 and min(shares) > 0  # both replicas took part
    counts = sorted((a.type, a.event_count) for a in repo.alerts.list(wards=None))
    assert counts == [("left_home", 10), ("tamper", 10)]  # one alert per incident across replicas
