"""In-process fan-out of committed alert changes to live SSE clients.

Publishing is thread-safe (the ingest worker is a thread); delivery happens on the event loop. Each
subscriber has a bounded queue: one that falls behind is dropped, never allowed to block the others, and
reconnects with Last-Event-ID to replay what it missed from the change log.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence

from cloud.storage.records import AlertChange


class Subscription:
    """One live client's queue of alert changes, limited to some wards (None: all)."""

    def __init__(self, wards: Collection[str] | None, maxsize: int) -> None:
        self.wards = None if wards is None else frozenset(wards)
        self.queue: asyncio.Queue[AlertChange | None] = asyncio.Queue(maxsize=maxsize + 1)
        self.maxsize = maxsize
        self.dropped = False

    def wants(self, change: AlertChange) -> bool:
        """True if the change is in this client's wards."""
        return self.wards is None or change.ward_id in self.wards

    def offer(self, change: AlertChange) -> bool:
        """Queue a change; False (and the client is marked dropped) when its queue is full."""
        if self.dropped:
            return False
        if self.queue.qsize() >= self.maxsize:
            self.dropped = True
            self.queue.put_nowait(None)  # the spare slot: tells the reader to end its stream
            return False
        self.queue.put_nowait(change)
        return True

    async def get(self, timeout: float | None = None) -> AlertChange | None:
        """The next change; None once dropped; TimeoutError when nothing came within `timeout`."""
        if timeout is None:
            return await self.queue.get()
        return await asyncio.wait_for(self.queue.get(), timeout)


WIRE_CACHE = 4096  # recent changes whose wire form is kept


class Broadcaster:
    """Fans alert changes out to subscribers on one event loop."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self.published = 0
        self.dropped_clients = 0
        self._wire: OrderedDict[int, str] = OrderedDict()  # change id -> its wire form (see `wire_form`)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on this loop from now on (the app's lifespan binds its running loop)."""
        self._loop = loop

    def subscribe(self, wards: Collection[str] | None) -> tuple[Subscription, Callable[[], None]]:
        """A new subscription and the callable that ends it (call it on the loop)."""
        subscription = Subscription(wards, self.queue_size)
        with self._lock:
            self._subscribers.add(subscription)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.discard(subscription)

        return subscription, unsubscribe

    def wire_form(self, change: AlertChange, encode: Callable[[AlertChange], str]) -> str:
        """`encode(change)`, computed once per change for all its subscribers (on the loop): 200 consoles
        of a ward would otherwise validate and serialise each change 200 times."""
        text = self._wire.get(change.id)
        if text is None:
            text = self._wire[change.id] = encode(change)
            if len(self._wire) > WIRE_CACHE:
                self._wire.popitem(last=False)
        return text

    @property
    def subscriber_count(self) -> int:
        """How many clients are subscribed."""
        with self._lock:
            return len(self._subscribers)

    def publish(self, changes: Sequence[AlertChange]) -> None:
        """Deliver changes to every interested subscriber; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed() or not changes:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver(changes)
        else:
            try:
                loop.call_soon_threadsafe(self._deliver, list(changes))
            except RuntimeError:  # the loop closed between the check and the call
                return

    def _deliver(self, changes: Sequence[AlertChange]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for change in changes:
            self.published += 1
            for subscription in subscribers:
                if subscription.wants(change) and not subscription.offer(change):
                    with self._lock:
                        if subscription in self._subscribers:
                            self._subscribers.discard(subscription)
                            self.dropped_clients += 1
