"""Measure what the simulated radio costs: CPU seconds per simulated second, i.e. the share of one core
that a world of N bracelets takes when it runs in real time (a helper for benchmarks, not a test).

    python -m firmware_sim.cpu_probe 1000 10000
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware_sim.bleak_backend import VirtualBleakScanner, register_world
from firmware_sim.population import generate_population
from firmware_sim.radio import RadioModel
from firmware_sim.world import AdvertReport, World
from qmon.clock import ManualClock


@dataclass(frozen=True, slots=True)
class CpuCost:
    """The result of one measurement."""

    bracelets: int
    simulated_s: float
    cpu_s: float
    adverts_delivered: int
    through_bleak: bool

    @property
    def core_share(self) -> float:
        """CPU seconds per simulated second: the fraction of one core used when running in real time."""
        return self.cpu_s / self.simulated_s


async def measure_world_cpu(
    bracelets: int, simulated_s: float = 20.0, *, through_bleak: bool = True, seed: int = 1
) -> CpuCost:
    """Run a generated population for `simulated_s` on a manual clock and measure the process CPU time.

    With `through_bleak`, adverts go through a VirtualBleakScanner to a counting detection callback, as an
    edge agent would receive them; otherwise to a bare world subscriber.
    """
    population = generate_population(bracelets, seed=seed, duration_s=max(600.0, simulated_s + 180.0))
    clock = ManualClock()
    world = World(population.households, RadioModel(), clock, seed=seed)
    received = [0]

    def on_report(report: AdvertReport) -> None:
        received[0] += 1

    def on_detection(device: BLEDevice, adv: AdvertisementData) -> None:
        received[0] += 1

    name = f"cpu-probe-{id(world)}"
    unregister = register_world(name, world)
    stop: Callable[[], None] | None = None
    scanner = None
    try:
        if through_bleak:
            scanner = BleakScanner(on_detection, backend=VirtualBleakScanner, radio=f"inproc:{name}")
            await scanner.start()
        else:
            stop = world.subscribe(None, on_report)
        step = 0.1
        for _ in range(30):  # warm-up: first adverts create every scanner-side device object
            clock.advance(step)
            world.advance_to(clock.now())
        start = time.process_time()
        for _ in range(round(simulated_s / step)):
            clock.advance(step)
            world.advance_to(clock.now())
        cpu = time.process_time() - start
    finally:
        if scanner is not None:
            await scanner.stop()
        if stop is not None:
            stop()
        unregister()
    return CpuCost(bracelets, simulated_s, cpu, received[0], through_bleak)


def main(argv: list[str]) -> None:
    """Print the core share for each bracelet count given on the command line (best of three runs)."""
    for count in [int(a) for a in argv] or [1000, 10_000]:
        for through_bleak in (False, True):
            # The best of three: other processes on the machine only ever make a run look slower.
            runs = [asyncio.run(measure_world_cpu(count, through_bleak=through_bleak)) for _ in range(3)]
            share = min(run.core_share for run in runs)
            via = "through VirtualBleakScanner" if through_bleak else "world subscriber"
            print(f"{count:>6} bracelets at 1 Hz, {via}: {share:6.1%} of one core")


if __name__ == "__main__":
    main(sys.argv[1:])
