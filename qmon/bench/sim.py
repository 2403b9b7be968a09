"""`qmon bench sim`: what the two bracelet simulators cost, and whether adverts survive the HCI path.

- bumble: `python -m firmware_sim.bumble --bracelets N --hci tcp:0` in its own process (adverts at 1 Hz),
  an edge-side BleakScanner on edge.hci_backend scanning it over 127.0.0.1 from this process. The CPU
  is the simulator process's only; the delivery ratio is the scanner's detection callbacks over the
  adverts the simulator's RadioLink delivered to the listening receiver (`LinkStats.delivered`), i.e.
  adverts in range that survived the radio model's fading and random loss: that loss is simulated air,
  not the HCI path's doing. The ratio over everything sent while scanning (model loss included) is
  reported beside it.
- virtual: the in-process world of `qmon sim` (run_sim, as that command runs it) with N bracelets and one
  subscriber counting reports, in a child process of this module (`python -m qmon.bench.sim`).

Both children are started with their own deadline and stopped (SIGINT, then kill) on exit or Ctrl-C.
`--only bumble` or `--only virtual` runs one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil
from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from qmon.bracelet.advert import COMPANY_ID

TARGET_BUMBLE_CPU_PERCENT = 50.0
TARGET_VIRTUAL_CPU_PERCENT = 20.0
TARGET_DELIVERY_RATIO = 0.95
START_TIMEOUT_S = 180.0  # building 10,000 bracelets (or 1,000 bumble devices) takes a while
STOP_TIMEOUT_S = 20.0


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _spawn(args: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )


async def _read_json(proc: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    """The next JSON line the child prints (other lines are skipped)."""
    assert proc.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"child {proc.pid} exited before printing its figures")
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    return data


async def _last_json(proc: asyncio.subprocess.Process, timeout: float) -> dict[str, Any]:
    """SIGINT the child and return the last JSON line it prints before exiting."""
    assert proc.stdout is not None
    proc.send_signal(signal.SIGINT)
    last: dict[str, Any] = {}
    async with asyncio.timeout(timeout):
        async for line in proc.stdout:
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict):
                    last = data
        await proc.wait()
    return last


async def _stop(proc: asyncio.subprocess.Process | None) -> None:
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _measure_cpu(process: psutil.Process, warmup_s: float, window_s: float) -> tuple[float, float]:
    """Wait `warmup_s`, then return (CPU %, wall seconds) of `process` over `window_s`."""
    await asyncio.sleep(warmup_s)
    cpu0, wall0 = _cpu_s(process), time.monotonic()
    await asyncio.sleep(window_s)
    cpu1, wall1 = _cpu_s(process), time.monotonic()
    return 100.0 * (cpu1 - cpu0) / (wall1 - wall0), wall1 - wall0


# ---- bumble over HCI --------------------------------------------------------------------------------------


async def bench_bumble(bracelets: int, warmup_s: float, window_s: float, seed: int) -> dict[str, Any]:
    """CPU of the bumble simulator with an edge scanning it over HCI/TCP, and the adverts that got through."""
    from edge.hci_backend import HciBleakScanner

    received = [0]

    def on_detection(device: BLEDevice, adv: AdvertisementData) -> None:
        if COMPANY_ID in adv.manufacturer_data:
            received[0] += 1

    # The simulator stops itself even if this process dies without stopping it.
    deadline = START_TIMEOUT_S + warmup_s + window_s + 60.0
    proc = await _spawn(
        [
            *("-m", "firmware_sim.bumble", "--bracelets", str(bracelets), "--hci", "tcp:0"),
            *("--seed", str(seed), "--adv-interval-ms", "1000", "--duration", str(deadline)),
        ]
    )
    try:
        ready = await _read_json(proc, START_TIMEOUT_S)
        scanner = BleakScanner(on_detection, backend=HciBleakScanner, hci_transport=ready["hci_transport"])
        await scanner.start()
        try:
            process = psutil.Process(proc.pid)
            await asyncio.sleep(warmup_s)
            cpu0, wall0, heard0 = _cpu_s(process), time.monotonic(), received[0]
            await asyncio.sleep(window_s)
            cpu1, wall1, heard1 = _cpu_s(process), time.monotonic(), received[0]
        except BaseException:
            # Ctrl-C reaches the simulator too, which may have closed the transport already.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(scanner.stop(), STOP_TIMEOUT_S)
            raise
        # Scanning stops first: the receiver stops listening, so the link's counts stop with ours.
        await asyncio.wait_for(scanner.stop(), STOP_TIMEOUT_S)
        await asyncio.sleep(0.2)
        stats = await _last_json(proc, STOP_TIMEOUT_S)
    finally:
        await _stop(proc)
    delivered, lost = int(stats.get("delivered", 0)), int(stats.get("lost", 0))
    # Every advert the link put on air while the receiver listened was either delivered or dropped by the
    # model (out of range, fading or random loss); adverts sent before scanning began count in neither.
    on_air = delivered + lost
    wall = wall1 - wall0
    return {
        "bumble_bracelets": bracelets,
        "bumble_cpu_percent": round(100.0 * (cpu1 - cpu0) / wall, 1),
        "hci_adverts_per_s_received_by_edge": round((heard1 - heard0) / wall, 1),
        "hci_delivery_ratio": round(received[0] / delivered, 4) if delivered else None,
        "hci_delivery_basis": "edge detections / adverts the radio link delivered to the scanning receiver "
        "(in range, after the model's fading and random loss), whole scan",
        "hci_adverts_delivered_by_link": delivered,
        "hci_adverts_received_by_edge": received[0],
        "hci_adverts_lost_by_radio_model": lost,
        "hci_ratio_incl_radio_model_loss": round(received[0] / on_air, 4) if on_air else None,
    }


# ---- the virtual radio ------------------------------------------------------------------------------------


async def bench_virtual(bracelets: int, warmup_s: float, window_s: float, seed: int) -> dict[str, Any]:
    """CPU of `qmon sim`'s world with N bracelets and one subscriber, in a child process."""
    deadline = START_TIMEOUT_S + warmup_s + window_s + 60.0
    proc = await _spawn(
        ["-m", "qmon.bench.sim", str(bracelets), str(seed), str(max(3600.0, deadline)), str(deadline)]
    )
    try:
        await _read_json(proc, START_TIMEOUT_S)
        cpu, wall = await _measure_cpu(psutil.Process(proc.pid), warmup_s, window_s)
        stats = await _last_json(proc, STOP_TIMEOUT_S)
    finally:
        await _stop(proc)
    return {
        "virtual_bracelets": bracelets,
        "virtual_cpu_percent": round(cpu, 1),
        "virtual_window_s": round(wall, 1),
        "virtual_adverts_sent": stats.get("sent"),
        "virtual_reports_received": stats.get("received"),
    }


async def _virtual_child(bracelets: int, seed: int, population_s: float, deadline_s: float) -> None:
    """Run the world as `qmon sim` does, one subscriber counting; print JSON when ready and at the end."""
    from firmware_sim.runner import RunningSim, run_sim
    from firmware_sim.settings import SimSettings
    from qmon.clock import ScaledClock

    settings = SimSettings.model_validate(
        {
            "seed": seed,
            "population": {"count": bracelets, "duration_s": population_s},
            "listen": {"host": "127.0.0.1", "port": 0},
            "duration_s": deadline_s,
        }
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    received = [0]
    unsubscribe: list[Callable[[], None]] = []

    def count(_report: object) -> None:
        received[0] += 1

    def on_ready(sim: RunningSim) -> None:
        unsubscribe.append(sim.world.subscribe(None, count))
        print(json.dumps({"ready": True, "bracelets": bracelets}), flush=True)

    world = await run_sim(settings, ScaledClock(1.0), stop=stop, on_ready=on_ready)
    for undo in unsubscribe:
        undo()
    print(json.dumps({"sent": world.adverts_sent, "received": received[0]}), flush=True)


# ---- both -------------------------------------------------------------------------------------------------


async def bench_sim(
    bumble_bracelets: int,
    virtual_bracelets: int,
    warmup_s: float,
    window_s: float,
    seed: int,
    only: str | None = None,
) -> dict[str, Any]:
    """Both simulators, one after the other (each alone on the machine), and the targets.

    `only` ("bumble" or "virtual") runs one of them; the targets then cover that one alone.
    """
    figures: dict[str, Any] = {}
    met: dict[str, bool] = {}
    targets: dict[str, Any] = {}
    if only in (None, "bumble"):
        bumble = await bench_bumble(bumble_bracelets, warmup_s, window_s, seed)
        ratio = bumble["hci_delivery_ratio"]
        figures.update(bumble)
        met["bumble_cpu"] = bumble["bumble_cpu_percent"] < TARGET_BUMBLE_CPU_PERCENT
        met["hci_delivery"] = ratio is not None and ratio >= TARGET_DELIVERY_RATIO
        targets.update(
            bumble_cpu_percent_below=TARGET_BUMBLE_CPU_PERCENT,
            bumble_bracelets=1_000,
            hci_delivery_ratio_at_least=TARGET_DELIVERY_RATIO,
        )
    if only in (None, "virtual"):
        virtual = await bench_virtual(virtual_bracelets, warmup_s, window_s, seed)
        figures.update(virtual)
        met["virtual_cpu"] = virtual["virtual_cpu_percent"] < TARGET_VIRTUAL_CPU_PERCENT
        targets.update(virtual_cpu_percent_below=TARGET_VIRTUAL_CPU_PERCENT, virtual_bracelets=10_000)
    return {
        **figures,
        "warmup_s": warmup_s,
        "window_s": window_s,
        "targets": targets,
        "targets_met": all(met.values()),
        "targets_met_each": met,
    }


def run(
    bumble_bracelets: int,
    virtual_bracelets: int,
    warmup_s: float,
    window_s: float,
    seed: int,
    only: str | None = None,
) -> dict[str, Any]:
    """Synchronous entry point for the CLI."""
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(bench_sim(bumble_bracelets, virtual_bracelets, warmup_s, window_s, seed, only))
    raise SystemExit(130)


if __name__ == "__main__":
    count, seed, population_s, deadline_s = sys.argv[1:5]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_virtual_child(int(count), int(seed), float(population_s), float(deadline_s)))
