"""The live feed's fan-out: thread-safe publishing, ward filters, and dropping slow clients."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cloud.broadcaster import Broadcaster
from cloud.storage.records import AlertChange
from tests.unit.cloud.builders import T0


def change(change_id: int, ward: str = "ward-a") -> AlertChange:
    return AlertChange(change_id, 1, ward, "opened", T0)


async def test_publish_from_another_thread_reaches_subscribers_of_the_ward() -> None:
    broadcaster = Broadcaster()
    broadcaster.bind(asyncio.get_running_loop())
    sub_a, _ = broadcaster.subscribe({"ward-a"})
    sub_all, _ = broadcaster.subscribe(None)
    thread = threading.Thread(target=broadcaster.publish, args=([change(1), change(2, "ward-b")],))
    thread.start()
    thread.join()
    assert (await sub_a.get(timeout=2)).id == 1  # type: ignore[union-attr]
    assert [(await sub_all.get(timeout=2)).id for _ in range(2)] == [1, 2]  # type: ignore[union-attr]
    with pytest.raises(TimeoutError):
        await sub_a.get(timeout=0.05)  # ward-b's change never reached the ward-a officer


async def test_a_slow_client_is_dropped_without_blocking_others() -> None:
    broadcaster = Broadcaster(queue_size=3)
    broadcaster.bind(asyncio.get_running_loop())
    slow, _ = broadcaster.subscribe(None)
    fast, _ = broadcaster.subscribe(None)
    for i in range(1, 6):
        broadcaster.publish([change(i)])
        assert (await fast.get(timeout=1)).id == i  # type: ignore[union-attr]
    assert slow.dropped and broadcaster.dropped_clients == 1 and broadcaster.subscriber_count == 1
    received = [await slow.get(timeout=1) for _ in range(4)]
    assert [c.id if c else None for c in received] == [1, 2, 3, None]  # then the end-of-stream marker


async def test_unsubscribe_stops_delivery() -> None:
    broadcaster = Broadcaster()
    broadcaster.bind(asyncio.get_running_loop())
    subscription, unsubscribe = broadcaster.subscribe(None)
    unsubscribe()
    broadcaster.publish([change(1)])
    assert broadcaster.subscriber_count == 0 and subscription.queue.empty()


def test_publish_before_binding_or_after_the_loop_closed_is_a_no_op() -> None:
    broadcaster = Broadcaster()
    broadcaster.publish([change(1)])
    loop = asyncio.new_event_loop()
    broadcaster.bind(loop)
    loop.close()
    broadcaster.publish([change(2)])


def test_a_change_is_encoded_once_for_all_its_subscribers_and_per_hub() -> None:
    calls: list[int] = []

    def encode(change: AlertChange) -> str:
        calls.append(change.id)
        return f"wire {change.id} {change.kind}"

    first, second = Broadcaster(), Broadcaster()
    opened = AlertChange(1, 7, "ward-a", "opened", T0)
    assert [first.wire_form(opened, encode) for _ in range(200)] == ["wire 1 opened"] * 200
    # another hub's change 1 (its own database) is not the first hub's
    acknowledged = AlertChange(1, 9, "ward-b", "acknowledged", T0)
    assert second.wire_form(acknowledged, encode) == "wire 1 acknowledged"
    assert calls == [1, 1]
