"""run_edge with the real gateway: SQLite outbox, MqttUplink, an embedded broker, and a subscriber."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from edge.agent import run_edge
from edge.decision import Decision
from gateway.protocol import EVENT_ADAPTER, TELEMETRY_ADAPTER, Channel, EventType, topic_for
from qmon.clock import SystemClock
from qmon.embedded_broker import EmbeddedBroker
from tests.integration.edge.fakes import AdvertFeed, feed_scanner_factory
from tests.integration.edge.harness import address_of
from tests.support.mqtt import TestClient
from tests.unit.edge.builders import make_mfr, make_settings


async def test_decisions_and_telemetry_reach_the_broker(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = make_settings(
        mqtt={"url": embedded_broker.url},
        presence={"stale_after_s": 0.5},
        tick_interval_s=0.05,
        telemetry_interval_s=0.3,
        outbox_path=tmp_path / "outbox.db",
        state_path=tmp_path / "state.json",
    )
    hub = TestClient(embedded_broker.port)
    await asyncio.to_thread(hub.start)
    await asyncio.to_thread(hub.subscribe, topic_for("site-a", Channel.EVENTS))
    await asyncio.to_thread(hub.subscribe, topic_for("site-a", Channel.TELEMETRY), 0)
    feed = AdvertFeed()
    stop = asyncio.Event()
    decisions: list[Decision] = []
    agent = asyncio.create_task(
        run_edge(
            settings,
            SystemClock(),
            stop=stop,
            on_decision=decisions.append,
            scanner_factory=feed_scanner_factory(feed),
        )
    )
    try:
        async with asyncio.timeout(10):
            while not feed.scanners:  # the uplink and the scanner start first
                await asyncio.sleep(0.01)
        for counter in range(1, 15):
            feed.send(
                address_of(0xA001), -55, make_mfr(device_id=0xA001, counter=counter, strap_closed=False)
            )
            await asyncio.sleep(0.05)
        received = await asyncio.to_thread(hub.wait_for, 5, 10.0)
    finally:
        stop.set()
        stats = await asyncio.wait_for(agent, 10)
        await asyncio.to_thread(hub.stop)

    events = [EVENT_ADAPTER.validate_json(m.payload) for m in received if m.topic.endswith("/events")]
    telemetry = [
        TELEMETRY_ADAPTER.validate_json(m.payload) for m in received if m.topic.endswith("/telemetry")
    ]
    by_device = {(e.device_id, e.type) for e in events}
    assert ("0000a001", EventType.STRAP_OPENED) in by_device
    assert ("0000a002", EventType.SIGNAL_LOST) in by_device and (
        "0000b001",
        EventType.SIGNAL_LOST,
    ) in by_device
    assert all(e.site_id == "site-a" and e.seq == 1 for e in events)
    assert telemetry and any(r.device_id == "0000a001" for t in telemetry for r in t.readings)
    assert {d.type for d in decisions} == {EventType.STRAP_OPENED, EventType.SIGNAL_LOST}
    assert stats.adverts_accepted == 14 and stats.emit_failures == 0
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["counters"] == {"0000a001": 14}
    assert state["devices"]["0000a001"]["vitals"]["strap_open"] is True
