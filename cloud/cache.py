"""A small LRU cache with an optional time-to-live, used by ingest to avoid per-message queries."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING = object()


class LruCache(Generic[K, V]):
    """At most `maxsize` entries, each trusted for `ttl_s` seconds (None: until evicted or invalidated).

    `invalidate` may be called from other threads; a value loaded before an invalidation is not cached
    (see `generation`), so a concurrent change is never hidden behind a stale entry.
    """

    def __init__(
        self, maxsize: int, ttl_s: float | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.maxsize = maxsize
        self.ttl_s = ttl_s
        self._monotonic = monotonic
        self._data: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.generation = 0

    def get(self, key: K) -> V | object:
        """The cached value, or the module's _MISSING sentinel (see `missing`)."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return _MISSING
            if self.ttl_s is not None and self._monotonic() - entry[1] > self.ttl_s:
                del self._data[key]
                return _MISSING
            self._data.move_to_end(key)
            return entry[0]

    def get_many(self, keys: Iterable[K]) -> tuple[dict[K, V], set[K]]:
        """(cached values, keys not cached) under one lock acquisition."""
        found: dict[K, V] = {}
        missing: set[K] = set()
        now = self._monotonic() if self.ttl_s is not None else 0.0
        with self._lock:
            data = self._data
            for key in keys:
                entry = data.get(key)
                if entry is None or (self.ttl_s is not None and now - entry[1] > self.ttl_s):
                    missing.add(key)
                else:
                    found[key] = entry[0]
                    data.move_to_end(key)
        return found, missing

    def put_many(self, items: Iterable[tuple[K, V]], generation: int | None = None) -> None:
        """Cache several values, unless an invalidation happened since `generation` was read."""
        now = self._monotonic()
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            data = self._data
            for key, value in items:
                data[key] = (value, now)
                data.move_to_end(key)
            while len(data) > self.maxsize:
                data.popitem(last=False)

    @staticmethod
    def missing(value: object) -> bool:
        """True if get() found nothing."""
        return value is _MISSING

    def put(self, key: K, value: V, generation: int | None = None) -> None:
        """Cache a value, unless an invalidation happened since `generation` was read."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return
            self._data[key] = (value, self._monotonic())
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def invalidate(self, key: K | None = None) -> None:
        """Forget one key (None: everything)."""
        with self._lock:
            self.generation += 1
            if key is None:
                self._data.clear()
            else:
                self._data.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
