"""In-process worlds by name, so that `radio="inproc:NAME"` finds the world a test or the demo runs."""

from __future__ import annotations

from collections.abc import Callable

from firmware_sim.world import World

_WORLDS: dict[str, World] = {}


def register_world(name: str, world: World) -> Callable[[], None]:
    """Make `world` reachable as `inproc:NAME`; returns the callable that unregisters it."""
    if not name or ":" in name:
        raise ValueError(f"invalid world name {name!r}")
    if name in _WORLDS:
        raise ValueError(f"a world is already registered as {name!r}")
    _WORLDS[name] = world

    def unregister() -> None:
        if _WORLDS.get(name) is world:
            del _WORLDS[name]

    return unregister


def lookup_world(name: str) -> World:
    """The world registered as `name`; KeyError if none."""
    return _WORLDS[name]
