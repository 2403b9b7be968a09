"""`python -m firmware_sim.bumble`: simulated bracelets on bumble's BLE stack behind an HCI port.

    python -m firmware_sim.bumble --bracelets 20 --hci pty
    {"hci_transport": "serial:/dev/pts/7,1000000", "bracelets": 20, ...}

then point an edge agent at it with `ble: {backend: hci, hci_transport: <that string>}`
(--edge-settings FILE writes that block and the bracelets' keys, YAML, for `qmon edge --config`).
`--hci tcp:PORT` listens on 127.0.0.1:PORT instead (0: a free port). Runs until Ctrl-C or --duration.
`--consoles` also serves each bracelet's AT console (docs/CONSOLE.md) on a pty and a loopback socket, listed
under "consoles" in the first line; `--nonconforming KIND` makes every bracelet break the protocol in one
way (firmware_sim.bumble.faults), for `qmon sim conformance` to catch.
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

from firmware_sim.bumble.faults import Nonconformity
from firmware_sim.bumble.simulator import BumbleSimulator
from firmware_sim.console import serve_consoles
from qmon.clock import SystemClock

STATS_EVERY_S = 10.0
MAX_CONSOLES = 256


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
    consoles: bool = False,
    nonconforming: Nonconformity | None = None,
) -> None:
    """Run the simulator until a signal or `duration` seconds, printing JSON lines of stats."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sim = BumbleSimulator.build(bracelets, seed, adv_interval_ms=adv_interval_ms, nonconforming=nonconforming)
    served = [p.bracelet for p in sim.peripherals.values()] if consoles else []
    async with sim, serve_consoles(served, SystemClock()) as console_server:  # the simulator's clock
        port = await sim.open_hci(hci)
        if edge_settings is not None:
            write_edge_settings(edge_settings, sim, port.host_spec)
        first: dict[str, object] = {"hci_transport": port.host_spec, "bracelets": bracelets, "seed": seed}
        if consoles:
            first["consoles"] = {e.device_id: [e.pty_path, e.socket_url] for e in console_server.endpoints}
        if nonconforming is not None:
            first["nonconforming"] = nonconforming.value
        print(json.dumps(first), flush=True)
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
@click.option(
    "--consoles",
    is_flag=True,
    help=f"Serve each bracelet's AT console on a pty and a 127.0.0.1 socket (at most {MAX_CONSOLES}).",
)
@click.option(
    "--nonconforming",
    type=click.Choice([k.value for k in Nonconformity]),
    default=None,
    help="Make every bracelet break the protocol in this way (for testing `qmon sim conformance`).",
)
def main(
    bracelets: int,
    hci: str,
    seed: int,
    adv_interval_ms: int,
    duration: float | None,
    edge_settings: Path | None,
    consoles: bool,
    nonconforming: str | None,
) -> None:
    """Simulated bracelets on bumble's BLE stack, reached over HCI on a pty or 127.0.0.1 TCP."""
    if consoles and bracelets > MAX_CONSOLES:
        raise click.UsageError(f"--consoles serves at most {MAX_CONSOLES} bracelets")
    fault = None if nonconforming is None else Nonconformity(nonconforming)
    asyncio.run(run(bracelets, hci, seed, adv_interval_ms, duration, edge_settings, consoles, fault))


if __name__ == "__main__":
    main()
