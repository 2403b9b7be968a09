"""MqttUplink against a private Mosquitto: broker outage and restart, last will, presence statuses."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gateway.protocol import EventType, SiteState
from tests.integration.gateway.builders import DEVICES, SITE, MakeUplink, make_telemetry
from tests.integration.gateway.collector import Collector, unique_in_order, wait_until
from tests.integration.gateway.tcp_gate import TcpGate
from tests.support.services import MosquittoFactory, MosquittoInstance

REPO_ROOT = Path(__file__).resolve().parents[3]


async def test_broker_outage_loses_nothing_and_keeps_order(
    mosquitto_factory: MosquittoFactory, gate_factory: Callable[[int], TcpGate], make_uplink: MakeUplink
) -> None:
    broker = mosquitto_factory.start()
    gate = gate_factory(broker.port)
    gate.open()
    hub = await Collector(broker.url).start()
    uplink = make_uplink(gate.url, max_telemetry_rows=2)
    await uplink.start()
    assert await uplink.wait_connected(10)
    before = [uplink.emit_event(DEVICES[i % 2], EventType.LEFT_HOME, time.time(), {"i": i}) for i in range(5)]
    await hub.wait_for_events(5)

    broker.stop()  # the outage: every connection drops, nothing is kept (persistence false)
    gate.shut()  # and the uplink stays away until the hub is back, below
    await wait_until(lambda: not uplink.connected, 10, "the uplink to notice the outage")
    await hub.stop()
    during = [uplink.emit_event(DEVICES[i % 2], EventType.FEVER, time.time(), {"i": i}) for i in range(5, 25)]
    for n in range(3):
        uplink.emit_telemetry(make_telemetry(n))  # the lane keeps 2: batch 0 is dropped
    assert uplink.stats().events_pending == 20

    broker = mosquitto_factory.restart(broker)  # same port
    hub_after = await Collector(broker.url).start()
    gate.open()
    await wait_until(
        lambda: len({e.event_id for e in hub_after.events()}) >= 20, 20, "the events of the outage"
    )

    received = unique_in_order(hub.events() + hub_after.events())
    assert [e.event_id for e in received] == [e.event_id for e in before + during]  # all, once, in order
    for device in DEVICES:
        seqs = [e.seq for e in received if e.device_id == device]
        assert seqs == list(range(1, len(seqs) + 1))
    await wait_until(lambda: len(hub_after.telemetry()) >= 2, 10, "telemetry kept during the outage")
    assert [t.readings[0].adverts for t in hub_after.telemetry()] == [1, 2]
    assert await uplink.drain(10)
    stats = uplink.stats()
    assert stats.reconnects >= 1 and stats.telemetry_dropped == 1 and stats.events_pending == 0
    await hub_after.stop()


async def test_killed_agent_leaves_a_retained_last_will(mosquitto: MosquittoInstance, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "tests.integration.gateway.uplink_process",
        "--url", mosquitto.url, "--site", SITE, "--outbox", str(tmp_path / "outbox.db"),
    ]  # fmt: skip
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE) as agent:
        assert agent.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(agent.stdout.readline), 30)
        assert line == b"connected\n"
        agent.kill()  # no DISCONNECT: the kernel closes the socket, the broker publishes the will
        agent.wait()

    watcher = await Collector(mosquitto.url).start()
    await wait_until(
        lambda: any(s.state is SiteState.OFFLINE for s, _ in watcher.statuses()), 10, "the last will"
    )
    await watcher.stop()
    late = await Collector(mosquitto.url).start()  # a hub that connects later sees the retained state
    await wait_until(late.statuses, 10, "the retained status")
    status, retained = late.statuses()[-1]
    assert retained and status.site_id == SITE
    assert (status.state, status.reason) == (SiteState.OFFLINE, "last will")
    await late.stop()


async def test_retained_online_then_offline_on_clean_stop(
    mosquitto: MosquittoInstance, make_uplink: MakeUplink
) -> None:
    uplink = make_uplink(mosquitto.url)
    await uplink.start()
    assert await uplink.wait_connected(10)
    watcher = await Collector(mosquitto.url).start()
    await wait_until(watcher.statuses, 10, "the retained online status")
    status, retained = watcher.statuses()[0]
    assert retained and status.state is SiteState.ONLINE and status.agent_version
    await watcher.stop()

    await uplink.stop()
    assert not uplink.connected
    late = await Collector(mosquitto.url).start()
    await wait_until(late.statuses, 10, "the retained offline status")
    status, retained = late.statuses()[-1]
    assert retained and (status.state, status.reason) == (SiteState.OFFLINE, "shutdown")
    await late.stop()
