"""The hub's command publisher on real brokers with accounts and the topic ACL: its own connection with the
hub's account, each command on its site's commands topic, QoS 1, not retained; sent after a late connect."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from cloud.commands import MqttCommandPublisher
from gateway.protocol import COMMAND_ADAPTER, CommandMessage, CommandType
from gateway.settings import MqttSettings
from qmon.embedded_broker import EmbeddedBroker
from tests.integration.gateway.tcp_gate import TcpGate
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoFactory


def command(site_id: str) -> CommandMessage:
    return CommandMessage(
        command_id=uuid.uuid4(),
        site_id=site_id,
        type=CommandType.SNAPSHOT,
        room_id="room-101",
        time=datetime.now(UTC),
    )


def hub_settings(port: int, password: str) -> MqttSettings:
    return MqttSettings(
        url=f"mqtt://127.0.0.1:{port}",
        username="hub",
        password=SecretStr(password),
        client_id="qmon-hub-test",
        reconnect_min_s=1,
        reconnect_max_s=2,
    )


def _commands_go_to_their_site(port: int, passwords: dict[str, str]) -> None:
    site_a = TestClient(port, "site-a", passwords["site-a"]).start()
    site_b = TestClient(port, "site-b", passwords["site-b"]).start()
    publisher = MqttCommandPublisher(hub_settings(port, passwords["hub"]))
    assert publisher.client_id == "qmon-hub-test-commands"  # beside ingest's `qmon-hub-test`, not instead
    try:
        site_a.subscribe("qmon/v1/sites/site-a/commands")
        site_b.subscribe("qmon/v1/sites/site-b/commands")
        early = command("site-a")
        assert not publisher.send(early)  # not started: nowhere to hand it
        publisher.start()
        assert publisher.wait_connected(10)
        for_a, for_b = command("site-a"), command("site-b")
        assert publisher.send(for_a) and publisher.send(for_b)
        (got_a,) = site_a.wait_for(1)
        (got_b,) = site_b.wait_for(1)
        assert (got_a.topic, got_a.retain) == ("qmon/v1/sites/site-a/commands", False)
        assert COMMAND_ADAPTER.validate_json(got_a.payload) == for_a
        assert COMMAND_ADAPTER.validate_json(got_b.payload) == for_b
        assert len(site_a.settle()) == 1 and len(site_b.settle()) == 1
    finally:
        publisher.stop()
        site_a.stop()
        site_b.stop()
    assert not publisher.connected


async def test_commands_through_the_embedded_broker(embedded_broker_with_accounts: EmbeddedBroker) -> None:
    passwords = {"hub": "hub-secret", "site-a": "site-a-secret", "site-b": "site-b-secret"}
    await asyncio.to_thread(_commands_go_to_their_site, embedded_broker_with_accounts.port, passwords)


def test_commands_through_mosquitto_with_acl(mosquitto_factory: MosquittoFactory) -> None:
    passwords = {"hub": "hub-pw-123", "site-a": "a-pw-123", "site-b": "b-pw-123"}
    broker = mosquitto_factory.start(accounts=passwords, hub_users=["hub"])
    _commands_go_to_their_site(broker.port, passwords)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_command_sent_while_the_broker_is_unreachable_goes_out_after_the_connect(
    mosquitto_factory: MosquittoFactory, protocol: str
) -> None:
    passwords = {"hub": "hub-pw-123", "site-a": "a-pw-123"}
    broker = mosquitto_factory.start(accounts=passwords, hub_users=["hub"])
    site_a = TestClient(broker.port, "site-a", passwords["site-a"]).start()
    site_a.subscribe("qmon/v1/sites/site-a/commands")
    gate = TcpGate(broker.port)  # shut: the hub cannot reach the broker yet
    settings = hub_settings(gate.port, passwords["hub"]).model_copy(update={"protocol": protocol})
    publisher = MqttCommandPublisher(settings)
    try:
        publisher.start()
        pending = command("site-a")
        assert publisher.send(pending)  # kept by paho (QoS 1) until it connects
        assert not publisher.wait_connected(0.5)
        gate.open()
        (message,) = site_a.wait_for(1, timeout=15)
        assert COMMAND_ADAPTER.validate_json(message.payload) == pending
    finally:
        publisher.stop()
        gate.shut()
        site_a.stop()
