"""`qmon sim`: run simulated bracelets and the radio server until Ctrl-C or --duration; its subcommands run
bracelets on bumble's BLE stack (`qmon sim bumble`), scenario files (`qmon sim run`) and conformance checks
against a bracelet (`qmon sim conformance`).

qmon/cli.py registers `sim_command`. Settings come from --config (YAML/JSON), then
QMON_SIM__* environment variables (e.g. QMON_SIM__RADIO__NOISE_SIGMA_DB=4), then the flags.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from firmware_sim.runner import RunningSim, run_sim
from firmware_sim.settings import SimSettings
from firmware_sim.world import Happening
from qmon.clock import ScaledClock
from qmon.lazy_group import LazyGroup
from qmon.settings import load_settings


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:7788' -> ('127.0.0.1', 7788); a bare port means 127.0.0.1."""
    host, sep, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise click.BadParameter(f"expected HOST:PORT, got {text!r}") from None
    return (host.strip("[]") if sep else "127.0.0.1") or "127.0.0.1", number


def settings_from_options(
    config: Path | None,
    households: Path | None,
    population: int | None,
    seed: int | None,
    listen: str | None,
    speed: float | None,
    duration: float | None,
) -> SimSettings:
    """Settings from the config file and environment, then the flags on top (flags win)."""
    base = load_settings(SimSettings, config, env_prefix="QMON_SIM__")
    data: dict[str, Any] = base.model_dump()
    if households is not None:
        data["households_file"] = households
        data["population"] = None
    if population is not None:
        data["households_file"] = None
        data["population"] = {**(data.get("population") or {}), "count": population}
    if seed is not None:
        data["seed"] = seed
    if listen is not None:
        host, port = parse_listen(listen)
        data["listen"] = {"host": host, "port": port}
    if speed is not None:
        data["speed"] = speed
    if duration is not None:
        data["duration_s"] = duration
    return SimSettings.model_validate(data)


def write_keys(path: Path, keys: dict[str, bytes]) -> None:
    """Write {device id: key hex} as JSON, readable by the owner only (the keys are secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({device: key.hex() for device, key in sorted(keys.items())}, out, indent=1)


KEYS_OUT_HELP = "Write the bracelets' keys (JSON, mode 0600) for an edge agent in another process."
keys_out_option = click.option(
    "--keys-out", type=click.Path(dir_okay=False, path_type=Path), help=KEYS_OUT_HELP
)


def world_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe the simulated world (`qmon sim` and the console server share them)."""
    options = (
        click.option(
            "--config",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Simulation settings file (YAML/JSON).",
        ),
        click.option(
            "--households",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Households file (YAML/JSON); default: the packaged demo.",
        ),
        click.option("--population", type=click.IntRange(1, 100_000), help="Generate N households instead."),
        click.option(
            "--seed", type=int, help="Seed of the noise, the derived keys and a generated population."
        ),
        click.option("--listen", help="Radio server address, 127.0.0.1:PORT (port 0: a free one)."),
        click.option(
            "--speed",
            type=click.FloatRange(0, 1000, min_open=True),
            help="Simulated seconds per real second.",
        ),
        click.option(
            "--duration",
            type=click.FloatRange(0, min_open=True),
            help="Stop after this many simulated seconds.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


SUBCOMMANDS = {
    "bumble": (
        "firmware_sim.bumble.__main__",
        "main",
        "Simulated bracelets on bumble's BLE stack behind an HCI port (pty or TCP).",
    ),
    "run": (
        "qmon.scenario.cli",
        "run_command",
        "Run scenario files through simulator, edge, broker and hub; pass or fail per expectation.",
    ),
    "conformance": (
        "firmware_sim.conformance.cli",
        "conformance_command",
        "Check a bracelet (simulated or real, over HCI) against docs/PROTOCOL.md.",
    ),
}


@click.group("sim", cls=LazyGroup, lazy_commands=SUBCOMMANDS, invoke_without_command=True)
@world_options
@keys_out_option
@click.pass_context
def sim_command(
    ctx: click.Context,
    config: Path | None,
    households: Path | None,
    population: int | None,
    seed: int | None,
    listen: str | None,
    speed: float | None,
    duration: float | None,
    keys_out: Path | None,
) -> None:
    """Run simulated bracelets and serve their radio to edge agents (or one of the subcommands)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        settings = settings_from_options(config, households, population, seed, listen, speed, duration)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    def on_ready(sim: RunningSim) -> None:
        click.echo(
            f"radio server: {sim.radio_url}"
            + (f" (in this process also {sim.inproc_url})" if sim.inproc_url else "")
        )
        sites: dict[str, list[str]] = {}
        for household in sim.households:
            sites.setdefault(household.site_id, []).append(household.hub.id)
        for site, hubs in sites.items():
            shown = ", ".join(hubs[:8]) + (f", ... ({len(hubs)} receivers)" if len(hubs) > 8 else "")
            click.echo(f"site {site}: receivers {shown}")
        if sim.population is not None:
            click.echo(
                f"population: {len(sim.households)} households, "
                f"{len(sim.population.expectations)} expected events, "
                f"{len(sim.population.no_alert)} devices that must not alert"
            )
        if keys_out is not None:
            write_keys(keys_out, sim.keys)
            click.echo(f"bracelet keys written to {keys_out}")
        click.echo(f"speed x{settings.speed:g}; Ctrl-C to stop", err=False)

    def on_happening(happening: Happening) -> None:
        if happening.kind.name.startswith("LINK_") or happening.kind.name == "BATTERY_SET":
            return  # routine, not notable
        click.echo(happening.describe())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            world = await run_sim(
                settings, ScaledClock(settings.speed), stop=stop, on_happening=on_happening, on_ready=on_ready
            )
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        click.echo(
            f"stopped after {world.elapsed:.1f} simulated seconds: "
            f"{world.adverts_sent} adverts sent, {world.adverts_delivered} delivered to scanners"
        )

    asyncio.run(main())
