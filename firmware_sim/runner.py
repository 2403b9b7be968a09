"""Running a simulation: build the world from settings, serve it over TCP, register it in-process, stop.

`run_sim` is what `qmon sim` and the demo call; `running_world` runs any World in-process as
`inproc:NAME` for tests and demos that build their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from firmware_sim.bleak_backend.registry import register_world
from firmware_sim.households import Household, demo_households_path, load_households
from firmware_sim.population import Population, generate_population
from firmware_sim.server import RadioServer
from firmware_sim.settings import SimSettings
from firmware_sim.world import HappeningCallback, World
from qmon.clock import Clock


@dataclass(frozen=True)
class RunningSim:
    """What a started simulation offers to its caller (see run_sim's on_ready)."""

    world: World
    radio_url: str
    inproc_url: str | None
    population: Population | None

    @property
    def households(self) -> list[Household]:
        """The simulated households."""
        return self.world.households

    @property
    def keys(self) -> dict[str, bytes]:
        """Every bracelet's key by device id."""
        return self.population.keys() if self.population is not None else self.world.keys()


def build_world(settings: SimSettings, clock: Clock) -> tuple[World, Population | None]:
    """The world the settings describe, and the population's ground truth when it is generated."""
    population = None
    if settings.population is not None:
        spec = settings.population
        population = generate_population(
            spec.count,
            settings.seed if spec.seed is None else spec.seed,
            spec.duration_s,
            spec.violations,
            sites=spec.sites,
        )
        households = population.households
    else:
        households = load_households(settings.households_file or demo_households_path())
    world = World(households, settings.radio, clock, settings.seed, tick_s=settings.tick_s)
    return world, population


@contextlib.asynccontextmanager
async def running_world(world: World, name: str) -> AsyncIterator[str]:
    """Register `world` as inproc:NAME and run it on its clock; yields the radio string for the backends."""
    unregister = register_world(name, world)
    task = asyncio.create_task(world.run(), name=f"world {name}")
    try:
        yield f"inproc:{name}"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        unregister()


async def run_sim(
    settings: SimSettings,
    clock: Clock,
    *,
    stop: asyncio.Event | None = None,
    on_happening: HappeningCallback | None = None,
    on_ready: Callable[[RunningSim], None] | None = None,
) -> World:
    """Run the world and its radio server until `stop` is set or `settings.duration_s` simulated seconds pass.

    `on_ready` receives the radio strings, keys and ground truth once the server listens; `on_happening`
    every notable happening. Returns the world (for its counters) after everything is shut down.
    """
    world, population = build_world(settings, clock)
    unsubscribe: Callable[[], None] | None = None
    if on_happening is not None:
        unsubscribe = world.subscribe_happenings(on_happening)
    server = RadioServer(world, settings.listen.host, settings.listen.port)
    await server.start()
    unregister = register_world(settings.inproc_name, world) if settings.inproc_name else None
    task = asyncio.create_task(world.run(), name="world")
    try:
        if on_ready is not None:
            inproc = f"inproc:{settings.inproc_name}" if settings.inproc_name else None
            on_ready(RunningSim(world, server.url, inproc, population))
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task((stop or asyncio.Event()).wait())]
        if settings.duration_s is not None:
            waiters.append(asyncio.create_task(_sleep_until(clock, world.start + settings.duration_s)))
        waiters.append(task)  # the world loop only ends by failing: surface that
        done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            if waiter is not task:
                waiter.cancel()
        if task in done:
            task.result()
        task.cancel()
        world.step()  # the moments between the loop's last wake-up and the stop count too
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()
        if unregister is not None:
            unregister()
        if unsubscribe is not None:
            unsubscribe()
    return world


async def _sleep_until(clock: Clock, deadline: float) -> None:
    while (left := deadline - clock.now()) > 0:
        await clock.sleep(left)
