"""Fixtures for uplink tests: outboxes in tmp_path, uplinks always stopped afterwards, brokers, gates."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.mqtt_uplink import MqttUplink
from gateway.outbox import Outbox
from qmon.clock import SystemClock
from qmon.embedded_broker import free_port
from tests.integration.gateway.brokers import AmqttHandle, BrokerHandle, MosquittoHandle
from tests.integration.gateway.builders import SITE, MakeUplink, make_settings
from tests.integration.gateway.tcp_gate import TcpGate
from tests.support.services import MosquittoFactory, require


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


@pytest.fixture
async def make_uplink(outbox_path: Path) -> AsyncIterator[MakeUplink]:
    """make_uplink(url, site_id=..., outbox=..., window=..., **settings): an MqttUplink, not started.

    Without `outbox`, the first uplink of a test uses `outbox_path` and later ones files of their own.
    Every uplink is stopped (and its outbox closed) at teardown.
    """
    made: list[tuple[MqttUplink, Outbox]] = []

    def make(
        url: str, *, site_id: str = SITE, outbox: Outbox | None = None, window: int = 100, **settings: Any
    ) -> MqttUplink:
        # Each uplink gets its own file unless the test shares one on purpose (two writers would both send).
        path = outbox_path if not made else outbox_path.with_name(f"outbox-{len(made)}.db")
        box = outbox or Outbox(path, SystemClock(), max_telemetry_rows=settings.pop("max_telemetry_rows", 50))
        uplink = MqttUplink(
            make_settings(url, **settings), site_id, box, SystemClock(), inflight_window=window
        )
        made.append((uplink, box))
        return uplink

    yield make
    for uplink, box in made:
        await uplink.stop(timeout=1.0)
        box.close()


@pytest.fixture(params=["mosquitto", "amqtt"])
def running_broker_url(request: pytest.FixtureRequest) -> str:
    """The url of a running private broker: Mosquitto (`mosquitto`) or amqtt (`embedded_broker`)."""
    fixture = "mosquitto" if request.param == "mosquitto" else "embedded_broker"
    return str(request.getfixturevalue(fixture).url)


@pytest.fixture(params=["mosquitto", "amqtt"])
async def broker_handle(
    request: pytest.FixtureRequest, mosquitto_factory: MosquittoFactory
) -> AsyncIterator[BrokerHandle]:
    """A broker on a reserved free port, not yet started; stopped after the test."""
    if request.param == "mosquitto":
        require(shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists(), "mosquitto")
        handle: BrokerHandle = MosquittoHandle(mosquitto_factory, free_port())
    else:
        handle = AmqttHandle(free_port())
    yield handle
    await handle.stop()


@pytest.fixture
def gate_factory() -> Iterator[Callable[[int], TcpGate]]:
    """TcpGate(target_port) instances, all shut after the test."""
    gates: list[TcpGate] = []

    def make(port: int) -> TcpGate:
        gates.append(TcpGate(port))
        return gates[-1]

    yield make
    for gate in gates:
        gate.shut()
