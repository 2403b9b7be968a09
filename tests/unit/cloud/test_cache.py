"""Ingest's LRU cache: bounded, expiring, and never caching a value loaded before an invalidation."""

from __future__ import annotations

from cloud.cache import LruCache


def test_lru_eviction_and_ttl() -> None:
    now = [0.0]
    cache: LruCache[str, int] = LruCache(2, ttl_s=10, monotonic=lambda: now[0])
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # evicts b, the least recently used
    assert LruCache.missing(cache.get("b")) and cache.get("c") == 3
    now[0] = 11
    assert LruCache.missing(cache.get("a"))


def test_get_many_and_put_many() -> None:
    cache: LruCache[str, int] = LruCache(10)
    cache.put_many([("a", 1), ("b", 2)])
    assert cache.get_many(["a", "b", "c"]) == ({"a": 1, "b": 2}, {"c"})


def test_a_value_loaded_before_an_invalidation_is_not_cached() -> None:
    cache: LruCache[str, int] = LruCache(10)
    generation = cache.generation
    cache.invalidate("a")  # e.g. an officer changed the order while ingest was reading it
    cache.put("a", 1, generation)
    cache.put_many([("b", 2)], generation)
    assert len(cache) == 0
