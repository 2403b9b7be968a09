"""The MQTT receiver in its child process: restarts, acknowledgements after a restart, shutdown, logs."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cloud.alerts import AlertService
from cloud.ingest import Ingest
from cloud.receiver import ReceiverConfig
from cloud.receiver_process import ProcessReceiver
from cloud.settings import HubSettings
from cloud.storage.repository import Repository
from gateway.protocol import EventType
from qmon.clock import ManualClock
from tests.integration.cloud.support import event_message, seed_order
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoInstance
from tests.unit.cloud.builders import T0

pytestmark = pytest.mark.mosquitto


def settings_for(mosquitto: MosquittoInstance, client_id: str) -> HubSettings:
    return HubSettings(
        jwt_secret="a-receiver-test-signing-key-long-enough",
        mqtt={"url": mosquitto.url, "client_id": client_id, "protocol": "5"},
    )


def quick_restarts(settings: HubSettings) -> ProcessReceiver:
    config = ReceiverConfig(settings.mqtt, settings.mqtt_session_expiry_s, settings.mqtt_receive_maximum)
    return ProcessReceiver(config, restart_delay_s=0.1)


@contextmanager
def running_ingest(settings: HubSettings, repo: Repository) -> Iterator[tuple[Ingest, list[ProcessReceiver]]]:
    clock = ManualClock(T0.timestamp() + 3600)
    receivers: list[ProcessReceiver] = []

    def build(s: HubSettings) -> ProcessReceiver:
        receivers.append(quick_restarts(s))
        return receivers[-1]

    ingest = Ingest(settings, repo, AlertService(repo, clock), clock, receiver=build)
    ingest.start()
    try:
        assert ingest.wait_connected(15), "ingest did not connect"
        yield ingest, receivers
    finally:
        ingest.stop()
        ingest.close()


def wait(ingest: Ingest, predicate: Any) -> dict[str, Any]:
    assert ingest.wait_until(predicate, 15), ingest.snapshot()
    return ingest.snapshot()


def gone(pid: int) -> bool:
    """True once the process has exited (a zombie waiting for its parent counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_killed_receiver_is_replaced_and_its_unacknowledged_message_comes_back_once(
    mosquitto: MosquittoInstance, sqlite_repo: Repository
) -> None:
    seed_order(sqlite_repo)
    pub = TestClient(mosquitto.port).start()
    try:
        with running_ingest(settings_for(mosquitto, "hub-killed"), sqlite_repo) as (ingest, receivers):
            (receiver,) = receivers
            first_pid = receiver.pid
            assert first_pid is not None
            release = threading.Event()
            real_process = ingest.processor.process

            def held(*args: Any, **kwargs: Any) -> Any:
                release.wait(15)  # received, not yet committed, so not yet acknowledged
                return real_process(*args, **kwargs)

            ingest.processor.process = held  # type: ignore[method-assign]
            pub.publish(*event_message(EventType.LEFT_HOME, 1))
            wait(ingest, lambda c: c.received == 1)
            os.kill(first_pid, signal.SIGKILL)
            assert wait_gone(first_pid)
            release.set()  # commits; its acknowledgement has no child to go to
            counters = wait(ingest, lambda c: c.stored == 1 and c.duplicates == 1)
            assert counters["received"] == 2 and counters["acked"] == 1  # only the re-delivered copy
            assert receiver.pid not in (None, first_pid) and ingest.wait_connected(10)
    finally:
        pub.stop()
    assert sqlite_repo.events.count() == 1


def test_stopping_ingest_ends_the_receiver_and_keeps_the_session(
    mosquitto: MosquittoInstance, sqlite_repo: Repository
) -> None:
    seed_order(sqlite_repo)
    settings = settings_for(mosquitto, "hub-stop")
    with running_ingest(settings, sqlite_repo) as (_ingest, receivers):
        pid = receivers[0].pid
    assert pid is not None and gone(pid)  # stop() waited for it
    pub = TestClient(mosquitto.port).start()
    try:
        pub.publish(*event_message(EventType.FEVER, 1))  # while no receiver runs
    finally:
        pub.stop()
    with running_ingest(settings, sqlite_repo) as (ingest, _receivers):
        wait(ingest, lambda c: c.stored == 1)


def test_the_receiver_logs_through_the_hub(
    mosquitto: MosquittoInstance, sqlite_repo: Repository, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with running_ingest(settings_for(mosquitto, "hub-logs"), sqlite_repo):
        deadline = time.monotonic() + 10
        while not any("hub ingest connected" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.05)
    (record,) = [r for r in caplog.records if "hub ingest connected" in r.getMessage()]
    assert record.name == "cloud.receiver_process" and record.getMessage().startswith("cloud.receiver:")


def test_the_receiver_exits_when_the_hub_process_dies(mosquitto: MosquittoInstance) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from cloud.receiver import ReceiverConfig
        from cloud.receiver_process import ProcessReceiver
        from gateway.settings import MqttSettings

        receiver = ProcessReceiver(ReceiverConfig(MqttSettings(url={mosquitto.url!r}, protocol="5",
                                   client_id="hub-orphan"), 3600, 100))
        receiver.start(lambda items: None)
        assert receiver.wait_connected(15)
        print(receiver.pid, flush=True)
        time.sleep(60)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as hub:
        try:
            assert hub.stdout is not None
            child = int(hub.stdout.readline())
            hub.kill()  # no chance to stop the child
            hub.wait(5)
            assert wait_gone(child), "the receiver outlived the hub"
        finally:
            if hub.poll() is None:
                hub.kill()


def test_a_terminated_receiver_is_restarted_and_its_connections_are_counted(
    mosquitto: MosquittoInstance, sqlite_repo: Repository
) -> None:
    with running_ingest(settings_for(mosquitto, "hub-connects"), sqlite_repo) as (ingest, receivers):
        pid = receivers[0].pid
        assert pid is not None and ingest.snapshot()["connects"] == 1
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while ingest.snapshot()["connects"] < 2:
            assert time.monotonic() < deadline, ingest.snapshot()
            time.sleep(0.05)
        assert ingest.wait_connected(10) and receivers[0].pid != pid


def test_children_that_die_before_connecting_are_restarted_less_and_less_often(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = HubSettings(
        jwt_secret="a-receiver-test-signing-key-long-enough",
        mqtt={"url": "mqtt://127.0.0.1:9", "client_id": "hub-nowhere", "protocol": "5"},  # never answers
    )
    receiver = quick_restarts(settings)
    receiver.start(lambda items: None)
    try:
        for _ in range(3):
            pid = receiver.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while receiver.pid in (None, pid):
                assert time.monotonic() < deadline, "no new receiver"
                time.sleep(0.02)
    finally:
        receiver.stop()
    restarts = [r.getMessage() for r in caplog.records if "restarting it in" in r.getMessage()]
    delays = [message.rsplit(" ", 1)[1] for message in restarts]
    assert delays == ["0.1s", "0.2s", "0.4s"] and not receiver.connected
