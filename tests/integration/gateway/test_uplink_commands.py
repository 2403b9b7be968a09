"""The uplink's command channel on both brokers: subscribed on every (re)connect, commands validated and
handed to the agent on its event loop, bad ones counted and dropped, snapshot answers published directly."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

from gateway.protocol import (
    COMMAND_ADAPTER,
    SNAPSHOT_ADAPTER,
    Channel,
    CommandMessage,
    CommandType,
    SnapshotError,
    SnapshotMessage,
    encode_message,
    topic_for,
)
from gateway.uplink import CommandLink
from tests.integration.gateway.brokers import BrokerHandle
from tests.integration.gateway.builders import SITE, MakeUplink
from tests.integration.gateway.collector import wait_until
from tests.support.mqtt import TestClient

COMMANDS = topic_for(SITE, Channel.COMMANDS)


def command(site_id: str = SITE, room_id: str = "room-101") -> CommandMessage:
    return CommandMessage(
        command_id=uuid.uuid4(),
        site_id=site_id,
        type=CommandType.SNAPSHOT,
        room_id=room_id,
        time=datetime.now(UTC),
    )


async def hub_client(port: int) -> TestClient:
    client = await asyncio.to_thread(TestClient(port).start)
    await asyncio.to_thread(client.subscribe, topic_for(SITE, Channel.SNAPSHOTS))
    return client


async def test_commands_reach_the_handler_on_the_loop_and_answers_the_hub(
    broker_handle: BrokerHandle, make_uplink: MakeUplink
) -> None:
    await broker_handle.start()
    uplink = make_uplink(broker_handle.url)
    link: CommandLink = uplink  # the port is satisfied structurally
    loop_thread = threading.get_ident()
    received: list[tuple[CommandMessage, bool]] = []
    unsubscribe = link.subscribe_commands(
        lambda c: received.append((c, threading.get_ident() == loop_thread))
    )
    await uplink.start()
    await wait_until(lambda: uplink.stats().commands_subscribed, 10, "the commands subscription")
    hub = await hub_client(broker_handle.port)

    first, second = command(), command(room_id="room-102")
    publish = hub.publish
    await asyncio.to_thread(publish, COMMANDS, encode_message(first))
    await asyncio.to_thread(publish, COMMANDS, b"{not json")
    await asyncio.to_thread(publish, COMMANDS, encode_message(command(site_id="site-b")))  # another site's
    await asyncio.to_thread(publish, COMMANDS, encode_message(first).replace(b"snapshot", b"video"))
    await asyncio.to_thread(publish, COMMANDS, encode_message(second))
    await wait_until(lambda: len(received) == 2 and uplink.stats().commands_invalid == 3, 10, "the commands")
    assert [(c.command_id, on_loop) for c, on_loop in received] == [
        (first.command_id, True),
        (second.command_id, True),
    ]
    assert COMMAND_ADAPTER.validate_python(received[0][0]) == first
    stats = uplink.stats()
    assert (stats.commands_received, stats.commands_invalid, stats.connected) == (2, 3, True)

    answer = SnapshotMessage(
        command_id=first.command_id,
        site_id=SITE,
        room_id=first.room_id,
        time=datetime.now(UTC),
        error=SnapshotError.CAMERA_OFFLINE,
    )
    assert uplink.send_snapshot(answer)
    (message,) = await asyncio.to_thread(hub.wait_for, 1)
    assert message.topic == topic_for(SITE, Channel.SNAPSHOTS) and not message.retain
    assert SNAPSHOT_ADAPTER.validate_json(message.payload) == answer
    assert uplink.stats().snapshots_sent == 1
    await asyncio.to_thread(hub.stop)

    # A new connection subscribes again (sessions are clean): commands keep coming after a broker restart.
    await broker_handle.stop()
    await wait_until(lambda: not uplink.connected, 15, "the uplink to notice the broker is gone")
    assert not uplink.stats().commands_subscribed
    assert not uplink.send_snapshot(answer)  # not connected: dropped, never queued
    await broker_handle.start()
    await wait_until(lambda: uplink.stats().commands_subscribed, 20, "the commands subscription again")
    hub = await hub_client(broker_handle.port)
    third = command()
    await asyncio.to_thread(hub.publish, COMMANDS, encode_message(third))
    await wait_until(lambda: len(received) == 3, 10, "the command after the reconnect")
    assert received[2][0].command_id == third.command_id

    unsubscribe()
    await asyncio.to_thread(hub.publish, COMMANDS, encode_message(command()))
    await wait_until(lambda: uplink.stats().commands_received == 4, 10, "the last command")
    assert len(received) == 3  # no handler any more: counted, dropped
    await asyncio.to_thread(hub.stop)


async def test_a_failing_handler_never_stops_the_uplink(
    running_broker_url: str, make_uplink: MakeUplink
) -> None:
    uplink = make_uplink(running_broker_url)
    good: list[CommandMessage] = []

    def broken(_: CommandMessage) -> None:
        raise RuntimeError("a bug in a handler")

    uplink.subscribe_commands(broken)
    uplink.subscribe_commands(good.append)
    await uplink.start()
    await wait_until(lambda: uplink.stats().commands_subscribed, 10, "the commands subscription")
    port = int(running_broker_url.rsplit(":", 1)[1])
    hub = await hub_client(port)
    for _ in range(2):
        await asyncio.to_thread(hub.publish, COMMANDS, encode_message(command()))
    await wait_until(lambda: len(good) == 2, 10, "both commands")
    assert uplink.connected
    await asyncio.to_thread(hub.stop)
