"""MqttUplink against real brokers (private Mosquitto and the embedded amqtt): flow, late broker, restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gateway.outbox import Outbox
from gateway.protocol import EventMessage, EventType, SiteState
from gateway.uplink import Uplink
from qmon.clock import SystemClock
from tests.integration.gateway.brokers import BrokerHandle
from tests.integration.gateway.builders import DEVICES, MakeUplink, make_telemetry
from tests.integration.gateway.collector import Collector, unique_in_order, wait_until
from tests.integration.gateway.tcp_gate import TcpGate


def emit(uplink: Uplink, count: int, start: int = 0) -> list[EventMessage]:
    """Emit `count` events alternating between two bracelets."""
    return [
        uplink.emit_event(DEVICES[i % 2], EventType.LEFT_HOME, time.time(), {"i": i})
        for i in range(start, start + count)
    ]


def ids(events: list[EventMessage]) -> list[object]:
    return [e.event_id for e in events]


async def test_events_and_telemetry_reach_the_hub_in_order(
    running_broker_url: str, make_uplink: MakeUplink
) -> None:
    hub = await Collector(running_broker_url).start()
    uplink = make_uplink(running_broker_url, window=4)  # a small window: ordering across many windows
    await uplink.start()
    assert await uplink.wait_connected(10)
    sent = emit(uplink, 30)
    uplink.emit_telemetry(make_telemetry(7))

    received = await hub.wait_for_events(30)
    assert received == sent  # one connection, no loss: exactly once, in order, unchanged
    await wait_until(hub.telemetry, 10, "telemetry")
    assert hub.telemetry()[0].readings[0].adverts == 7
    assert await uplink.drain(10)
    stats = uplink.stats()
    assert (stats.events_sent, stats.events_acked) == (30, 30)
    assert (stats.events_pending, stats.events_inflight) == (0, 0)
    assert (stats.telemetry_sent, stats.telemetry_pending, stats.reconnects) == (1, 0, 0)
    assert any(s.state is SiteState.ONLINE for s, _ in hub.statuses())
    await hub.stop()


async def test_uplink_starts_without_a_broker_and_delivers_once_it_is_up(
    broker_handle: BrokerHandle, gate_factory: Callable[[int], TcpGate], make_uplink: MakeUplink
) -> None:
    gate = gate_factory(broker_handle.port)  # shut: nothing answers on the uplink's port yet
    uplink = make_uplink(gate.url)
    await uplink.start()  # returns at once although no broker is there
    sent = emit(uplink, 5)
    uplink.emit_telemetry(make_telemetry(1))
    await wait_until(lambda: uplink.stats().connect_failures >= 1, 10, "a failed connection attempt")
    assert not uplink.connected and uplink.stats().events_pending == 5

    await broker_handle.start()
    hub = await Collector(broker_handle.url).start()
    gate.open()  # only now may the uplink reach the broker, so the hub cannot miss anything
    received = await hub.wait_for_events(5)
    assert ids(unique_in_order(received)) == ids(sent)
    await wait_until(hub.telemetry, 10, "telemetry sent after the connection")
    assert await uplink.drain(10)
    await hub.stop()


async def test_restart_resends_what_the_broker_did_not_acknowledge(
    broker_handle: BrokerHandle,
    gate_factory: Callable[[int], TcpGate],
    make_uplink: MakeUplink,
    outbox_path: Path,
) -> None:
    await broker_handle.start()
    hub = await Collector(broker_handle.url).start()
    gate = gate_factory(broker_handle.port)
    gate.open()
    first_box = Outbox(outbox_path, SystemClock())
    first = make_uplink(gate.url, outbox=first_box)
    await first.start()
    assert await first.wait_connected(10)
    acked = emit(first, 3)
    assert await first.drain(10)

    gate.drop_replies = True  # the broker receives the next events but its PUBACKs never come back
    unacked = emit(first, 4, start=3)
    await hub.wait_for_events(7)
    await wait_until(lambda: first.stats().events_inflight == 4, 10, "4 events in flight")
    await first.stop(timeout=0.5)  # the "process" ends without acknowledgements
    first_box.close()

    gate.shut()
    gate.drop_replies = False
    gate.open()
    second_box = Outbox(outbox_path, SystemClock())
    assert [p.event_id for p in second_box.pending_events()] == ids(unacked)
    second = make_uplink(gate.url, outbox=second_box)
    await second.start()
    await wait_until(lambda: len(hub.events()) >= 11, 15, "the re-sent events")
    received = hub.events()
    assert ids(received) == ids(acked + unacked + unacked)  # at least once: duplicates are expected here
    assert ids(unique_in_order(received)) == ids(acked + unacked)  # and exactly once after de-duplication
    assert await second.drain(10)

    later = second.emit_event(DEVICES[0], EventType.RETURNED_HOME, time.time(), {})
    assert later.seq == 5  # device 0 had seq 1..4 before the restart
    await hub.wait_for_events(8)
    await hub.stop()
