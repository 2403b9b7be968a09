"""The embedded broker enforces the same accounts and topic rules as the Mosquitto set-up."""

from __future__ import annotations

import asyncio

import pytest

from qmon.embedded_broker import EmbeddedBroker
from tests.support.mqtt import TestClient
from tests.support.services import MosquittoFactory


async def test_refuses_non_loopback_and_standard_port() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmbeddedBroker(host="0.0.0.0")
    with pytest.raises(ValueError, match="1883"):
        EmbeddedBroker(port=1883)


async def test_wrong_password_is_refused(embedded_broker_with_accounts: EmbeddedBroker) -> None:
    client = await asyncio.to_thread(
        TestClient(embedded_broker_with_accounts.port, "site-a", "not-the-password").start
    )
    try:
        assert client.connect_codes and client.connect_codes[0] != 0
    finally:
        await asyncio.to_thread(client.stop)


async def test_site_cannot_publish_for_another_site(embedded_broker_with_accounts: EmbeddedBroker) -> None:
    port = embedded_broker_with_accounts.port
    hub = await asyncio.to_thread(TestClient(port, "hub", "hub-secret").start)
    site = await asyncio.to_thread(TestClient(port, "site-a", "site-a-secret").start)
    try:
        await asyncio.to_thread(hub.subscribe, "qmon/v1/sites/+/events")
        await asyncio.to_thread(site.publish, "qmon/v1/sites/site-b/events", b"forged")
        await asyncio.to_thread(site.publish, "qmon/v1/sites/site-a/events", b"own")
        received = await asyncio.to_thread(hub.wait_for, 1)
        received = await asyncio.to_thread(hub.settle)
        assert [(m.topic, m.payload) for m in received] == [("qmon/v1/sites/site-a/events", b"own")]
    finally:
        await asyncio.to_thread(hub.stop)
        await asyncio.to_thread(site.stop)


def test_mosquitto_with_rendered_acl_enforces_the_same_rule(mosquitto_factory: MosquittoFactory) -> None:
    broker = mosquitto_factory.start(accounts={"hub": "hub-pw-123", "site-a": "a-pw-123"}, hub_users=["hub"])
    hub = TestClient(broker.port, "hub", "hub-pw-123").start()
    site = TestClient(broker.port, "site-a", "a-pw-123").start()
    try:
        hub.subscribe("qmon/v1/sites/+/events")
        site.publish("qmon/v1/sites/site-b/events", b"forged")
        site.publish("qmon/v1/sites/site-a/events", b"own")
        hub.wait_for(1)
        assert [(m.topic, m.payload) for m in hub.settle()] == [("qmon/v1/sites/site-a/events", b"own")]
    finally:
        hub.stop()
        site.stop()


def _commands_reach_only_their_site(port: int, passwords: dict[str, str]) -> None:
    """The hub commands site-b; site-a can neither read those commands nor publish any, on either topic;
    answers go from a site's own snapshots topic to the hub only."""
    hub = TestClient(port, "hub", passwords["hub"]).start()
    site_a = TestClient(port, "site-a", passwords["site-a"]).start()
    site_b = TestClient(port, "site-b", passwords["site-b"]).start()
    try:
        hub.subscribe("qmon/v1/sites/+/snapshots")
        hub.subscribe("qmon/v1/sites/+/commands")  # refused: the hub writes commands, it never reads them
        site_a.subscribe("qmon/v1/sites/site-b/commands")  # refused
        site_a.subscribe("qmon/v1/sites/+/commands")  # refused
        site_a.subscribe("qmon/v1/sites/site-a/commands")  # its own: allowed
        site_b.subscribe("qmon/v1/sites/site-b/commands")
        site_a.publish("qmon/v1/sites/site-b/commands", b"forged for b")
        site_a.publish("qmon/v1/sites/site-a/commands", b"forged for itself")
        site_b.publish("qmon/v1/sites/site-a/snapshots", b"answer as a")
        hub.publish("qmon/v1/sites/site-b/commands", b"command for b")
        site_b.publish("qmon/v1/sites/site-b/snapshots", b"answer of b")
        site_b.wait_for(1)
        hub.wait_for(1)
        assert [(m.topic, m.payload) for m in site_b.settle()] == [
            ("qmon/v1/sites/site-b/commands", b"command for b")
        ]
        assert [(m.topic, m.payload) for m in hub.settle()] == [
            ("qmon/v1/sites/site-b/snapshots", b"answer of b")
        ]
        assert site_a.settle() == []
    finally:
        for client in (hub, site_a, site_b):
            client.stop()


async def test_embedded_broker_lets_only_the_hub_command_a_site(
    embedded_broker_with_accounts: EmbeddedBroker,
) -> None:
    passwords = {"hub": "hub-secret", "site-a": "site-a-secret", "site-b": "site-b-secret"}
    await asyncio.to_thread(_commands_reach_only_their_site, embedded_broker_with_accounts.port, passwords)


def test_mosquitto_with_rendered_acl_lets_only_the_hub_command_a_site(
    mosquitto_factory: MosquittoFactory,
) -> None:
    passwords = {"hub": "hub-pw-123", "site-a": "a-pw-123", "site-b": "b-pw-123"}
    broker = mosquitto_factory.start(accounts=passwords, hub_users=["hub"])
    _commands_reach_only_their_site(broker.port, passwords)
