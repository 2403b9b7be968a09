"""Per-site accounts and the topic ACL on Mosquitto: a site speaks only for itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gateway.credentials import generate_password
from gateway.outbox import Outbox
from gateway.protocol import EventType
from qmon.clock import SystemClock
from tests.integration.gateway.builders import DEVICES, MakeUplink, make_telemetry
from tests.integration.gateway.collector import Collector, wait_until
from tests.support.services import MosquittoFactory


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_site_delivers_on_its_own_topics_and_cannot_impersonate_another(
    mosquitto_factory: MosquittoFactory, make_uplink: MakeUplink, tmp_path: Path, protocol: str
) -> None:
    site_pw, hub_pw = generate_password(), generate_password()
    broker = mosquitto_factory.start(accounts={"site-a": site_pw, "hub": hub_pw}, hub_users=["hub"])
    hub = await Collector(broker.url, username="hub", password=hub_pw).start()

    # Valid credentials of site-a, but configured (or compromised) to publish as site-b.
    impostor = make_uplink(
        broker.url, site_id="site-b", outbox=Outbox(tmp_path / "b.db", SystemClock()),
        username="site-a", password=site_pw, protocol=protocol,
    )  # fmt: skip
    await impostor.start()
    assert await impostor.wait_connected(10)
    for i in range(3):
        impostor.emit_event(DEVICES[0], EventType.STRAP_OPENED, time.time(), {"i": i})
    impostor.emit_telemetry(make_telemetry(1, site_id="site-b"))
    assert await impostor.drain(10)  # the broker acknowledged, and silently dropped, every publish
    await wait_until(lambda: impostor.stats().telemetry_sent == 1, 10, "the impostor's telemetry")
    if protocol == "5":
        assert impostor.stats().events_rejected == 3  # MQTT 5 says why: PUBACK "Not authorized"

    honest = make_uplink(broker.url, username="site-a", password=site_pw, protocol=protocol)
    await honest.start()
    assert await honest.wait_connected(10)
    sent = [honest.emit_event(DEVICES[1], EventType.LEFT_HOME, time.time(), {}) for _ in range(3)]
    honest.emit_telemetry(make_telemetry(2))
    received = await hub.wait_for_events(3)
    await wait_until(hub.telemetry, 10, "site-a's telemetry")

    assert [e.event_id for e in received] == [e.event_id for e in sent]
    assert all("/sites/site-a/" in topic for topic in hub.topics()), hub.topics()
    assert honest.stats().events_rejected == 0
    await hub.stop()


async def test_wrong_password_is_refused_and_retried(
    mosquitto_factory: MosquittoFactory, make_uplink: MakeUplink
) -> None:
    broker = mosquitto_factory.start(accounts={"site-a": generate_password()}, hub_users=[])
    uplink = make_uplink(broker.url, username="site-a", password=generate_password())
    await uplink.start()
    await wait_until(lambda: uplink.stats().connect_failures >= 1, 10, "a refused connection")
    assert not uplink.connected
