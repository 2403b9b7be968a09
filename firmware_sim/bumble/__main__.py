"""`python -m firmware_sim.bumble`: simulated bracelets on bumble's BLE stack behind an HCI port.

    python -m firmware_sim.bumble --bracelets 20 --hci pty
    {"hci_transport": "serial:/dev/pts/7,1000000", "bracelets": 20, ...}

then point an edge agent at it with `ble: {backend: hci, hci_transport: <that string>}`
(--edge-settings FILE writes that block and the bracelets' keys, YAML, for `qmon edge --config`).
`--hci tcp:PORT` listens on 127.0.0.1:PORT instead (0: a free port). Runs until Ctrl-C or --duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import signal
import time
from pathlib import Path

import click
import yaml

from firmware_sim.bumble.simulator import BumbleSimulator

STATS_EVERY_S = 10.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_edge_settings(path: Path, sim: BumbleSimulator, hci_transport: str) -> None:
    """The edge settings fragment that monitors these bracelets through this HCI port."""
    data = {
        "ble": {"backend": "hci", "hci_transport": hci_transport},
        "bracelets": [{"device_id": d, "key": k.hex()} for d, k in sorted(sim.keys().items())],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))


async def run(
    bracelets: int,
    hci: str,
    seed: int,
    adv_interval_ms: int,
    duration: float | None,
    edge_settings: Path | None,
) -> None:
    """Run the simulator until a signal or `duration` seconds, printing JSON lines of stats."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BumbleSimulator.build(bracelets, seed, adv_interval_ms=adv_interval_ms) as sim:
        port = await sim.open_hci(hci)
        if edge_settings is not None:
            write_edge_settings(edge_settings, sim, port.host_spec)
        print(json.dumps({"hci_transport": port.host_spec, "bracelets": bracelets, "seed": seed}), flush=True)
        started, cpu0 = time.monotonic(), _cpu_s()
        last, cpu_last = started, cpu0
        while not stop.is_set():
            timeout = STATS_EVERY_S
            if duration is not None:
                timeout = min(timeout, max(0.0, started + duration - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            now, cpu = time.monotonic(), _cpu_s()
            stats = sim.link.stats
            print(
                json.dumps(
                    {
                        "t": round(now - started, 1),
                        "sent": stats.sent,
                        "delivered": stats.delivered,
                        "lost": stats.lost,
                        "cpu_pct": round(100 * (cpu - cpu_last) / max(now - last, 1e-9), 1),
                    }
                ),
                flush=True,
            )
            last, cpu_last = now, cpu
            if duration is not None and now - started >= duration:
                break


@click.command()
@click.option("--bracelets", "-n", type=click.IntRange(1, 20_000), default=10, show_default=True)
@click.option(
    "--hci", default="pty", show_default=True, help="pty, or tcp:PORT on 127.0.0.1 (0: a free port)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Keys and radio noise derive from it.")
@click.option("--adv-interval-ms", type=click.IntRange(100, 10_240), default=1000, show_default=True)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option(
    "--edge-settings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the edge's ble/bracelets settings (with the simulated keys) here, YAML.",
)
def main(
    bracelets: int,
    hci: str,
    seed: int,
    adv_interval_ms: int,
    duration: float | None,
    edge_settings: Path | None,
) -> None:
    """Simulated bracelets on bumble's BLE stack, reached over HCI on a pty or 127.0.0.1 TCP."""
    asyncio.run(run(bracelets, hci, seed, adv_interval_ms, duration, edge_settings))


if __name__ == "__main__":
    main()
