"""Drives an EdgeAgent with a manual clock, adverts through bleak's facade, and a recording uplink."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from edge.agent import EdgeAgent
from edge.backends import ClientFactory
from edge.settings import EdgeSettings
from edge.state import MemoryStateStore, StateStore
from qmon.bracelet.advert import format_device_id
from qmon.clock import ManualClock
from tests.integration.edge.fakes import AdvertFeed, FakeUplink, feed_scanner_factory
from tests.unit.edge.builders import T0, make_mfr


def address_of(device: int) -> str:
    """A stable random-looking BLE address per bracelet."""
    return "C0:00:00:00:" + format_device_id(device)[4:6].upper() + ":" + format_device_id(device)[6:].upper()


async def settle() -> None:
    """Let every ready task run (no real time passes)."""
    for _ in range(10):
        await asyncio.sleep(0)


class AgentHarness:
    """An EdgeAgent under test with a manual clock, a feed of adverts and a recording uplink."""

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        store: StateStore | None = None,
        client_factory: ClientFactory | None = None,
        clock: ManualClock | None = None,
        scanner_factory: Any = None,
        backends_from_settings: bool = False,
    ) -> None:
        self.clock = clock or ManualClock(T0)
        self.feed = AdvertFeed()
        self.uplink = FakeUplink(settings.site_id)
        self.store = store or MemoryStateStore()
        self.counters: dict[int, int] = defaultdict(int)
        self.agent = EdgeAgent(
            settings,
            self.clock,
            self.uplink,
            scanner_factory=None
            if backends_from_settings
            else scanner_factory or feed_scanner_factory(self.feed),
            client_factory=client_factory,
            state_store=self.store,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AgentHarness:
        self._task = asyncio.create_task(self.agent.run(self._stop))
        await settle()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop the agent and wait for it."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)

    def advert(self, device: int, rssi: int = -60, **overrides: Any) -> None:
        """Transmit the bracelet's next genuine advert (its counter increases)."""
        self.counters[device] += 1
        self.feed.send(
            address_of(device), rssi, make_mfr(device_id=device, counter=self.counters[device], **overrides)
        )

    async def seconds(self, n: int, each: Callable[[int], None] | None = None) -> None:
        """Let `n` seconds pass, calling `each(i)` at the start of every second (e.g. to send adverts)."""
        for i in range(n):
            if each is not None:
                each(i)
            await settle()
            self.clock.advance(1.0)
            await settle()
