"""`python -m firmware_sim.console`: run the simulated world (as `qmon sim` does) and serve every bracelet's
console, printing where each one is (pty path, socket:// URL, rfc2217:// URL)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import click

from firmware_sim.cli import keys_out_option, settings_from_options, world_options, write_keys
from firmware_sim.console.transports import serve_consoles
from firmware_sim.runner import RunningSim, run_sim
from firmware_sim.world import Happening
from qmon.clock import ScaledClock

MAX_CONSOLES = 256  # each console is a pty and one or two sockets; pick devices for larger worlds


@click.command("console")
@world_options
@click.option("--devices", help="Serve consoles for these device ids only (comma-separated).")
@click.option(
    "--console-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="First TCP port of the consoles (consecutive ports from it); 0: free ports.",
)
@click.option("--pty/--no-pty", default=True, show_default=True, help="Serve each console on a pty.")
@click.option(
    "--rfc2217/--no-rfc2217",
    default=False,
    show_default=True,
    help="Also serve each console over RFC 2217 (a second TCP port per bracelet).",
)
@keys_out_option
def console_command(
    config: Path | None,
    households: Path | None,
    population: int | None,
    seed: int | None,
    listen: str | None,
    speed: float | None,
    duration: float | None,
    devices: str | None,
    console_port: int,
    pty: bool,
    rfc2217: bool,
    keys_out: Path | None,
) -> None:
    """Run simulated bracelets with their radio server and serve each one's AT console."""
    try:
        settings = settings_from_options(config, households, population, seed, listen, speed, duration)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    wanted = {d.strip().lower() for d in devices.split(",") if d.strip()} if devices else None

    async def main() -> None:
        stop = asyncio.Event()
        ready: asyncio.Future[RunningSim] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def on_happening(happening: Happening) -> None:
            if not happening.kind.name.startswith("LINK_"):
                click.echo(happening.describe())

        sim = run_sim(
            settings,
            ScaledClock(settings.speed),
            stop=stop,
            on_ready=ready.set_result,
            on_happening=on_happening,
        )
        sim_task = asyncio.create_task(sim)
        try:
            waiters: set[asyncio.Future[Any]] = {sim_task, ready}
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                sim_task.result()
                return
            running = ready.result()
            ids = [spec.device_id for h in running.households for spec in h.bracelets]
            if wanted is not None:
                unknown = wanted - set(ids)
                if unknown:
                    raise click.UsageError(f"no such devices: {', '.join(sorted(unknown))}")
                ids = [d for d in ids if d in wanted]
            if len(ids) > MAX_CONSOLES:
                raise click.UsageError(f"{len(ids)} bracelets: pick at most {MAX_CONSOLES} with --devices")
            if keys_out is not None:
                write_keys(keys_out, running.keys)
                click.echo(f"bracelet keys written to {keys_out}")
            bracelets = [running.world.bracelet(d) for d in ids]
            async with serve_consoles(
                bracelets,
                running.world.clock,
                base_port=console_port,
                pty=pty,
                tcp=True,
                rfc2217=rfc2217,
                inject=running.world.inject,  # faults typed at a console are the world's happenings
            ) as server:
                click.echo(f"radio server: {running.radio_url}")
                for endpoint in server.endpoints:
                    click.echo(f"console {endpoint.describe()}")
                click.echo("console: lines end with CR or LF; AT+HELP lists the commands; Ctrl-C to stop")
                await sim_task
        finally:
            stop.set()
            if not sim_task.done():
                await sim_task
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    asyncio.run(main())
