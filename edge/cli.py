"""`qmon edge`: run an edge agent from a settings file, QMON_EDGE__* variables and flags."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import signal
from pathlib import Path

import click
from pydantic import ValidationError

from edge.agent import AgentStats, run_edge
from edge.decision import Decision, RoomDecision, format_time
from edge.settings import ENV_PREFIX, EdgeSettings
from qmon.clock import SystemClock
from qmon.settings import load_settings


def format_decision(decision: Decision) -> str:
    """One line per decision: time, device, event type, evidence as JSON."""
    evidence = json.dumps(dict(decision.data), sort_keys=True, separators=(",", ":"))
    return f"{format_time(decision.time)} {decision.device_id} {decision.type.value:<16} {evidence}"


def format_room_decision(decision: RoomDecision) -> str:
    """One line per room decision: time, room, event type, evidence as JSON."""
    evidence = json.dumps(dict(decision.data), sort_keys=True, separators=(",", ":"))
    return f"{format_time(decision.time)} {decision.room_id} {decision.type.value:<16} {evidence}"


def _describe(error: ValidationError) -> str:
    # Without the input values: a malformed bracelet key must not end up on the terminal or in a log.
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        lines.append(f"  {where}: {item['msg']}")
    return "invalid edge settings:\n" + "\n".join(lines)


async def _serve(settings: EdgeSettings) -> AgentStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        click.echo("stopping (press Ctrl-C again to abort)...", err=True)
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)  # a second Ctrl-C interrupts for real

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    return await run_edge(
        settings,
        SystemClock(),
        stop=stop,
        on_decision=lambda d: click.echo(format_decision(d)),
        on_room_decision=lambda d: click.echo(format_room_decision(d)),
    )


@click.command("edge")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON settings file (bracelet keys: here or QMON_EDGE__BRACELETS, never the repo).",
)
@click.option("--site-id", help="Site identity (also the MQTT account name).")
@click.option("--mqtt-url", help="mqtt://host:port or mqtts://host:port.")
@click.option("--ble-backend", type=click.Choice(["bluez", "virtual", "hci"]), help="BLE backend.")
@click.option(
    "--hci-transport",
    help="HCI transport (with --ble-backend hci): serial:/dev/ttyACM0,1000000 for a USB HCI-UART dongle, "
    "or what `python -m firmware_sim.bumble` prints (a pty or tcp-client:127.0.0.1:PORT).",
)
@click.option(
    "--radio", help="Virtual radio: inproc:NAME or tcp://127.0.0.1:PORT (with --ble-backend virtual)."
)
@click.option("--adapter", help="BlueZ adapter, e.g. hci0.")
@click.option(
    "--bracelet-keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file {device id: key hex} (as `qmon sim --keys-out` writes) of the bracelets to monitor.",
)
@click.option(
    "--stats-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the run's counters as JSON here on exit (for benchmarks and monitoring).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def edge_command(
    config_path: Path | None,
    site_id: str | None,
    mqtt_url: str | None,
    ble_backend: str | None,
    hci_transport: str | None,
    radio: str | None,
    adapter: str | None,
    bracelet_keys: Path | None,
    stats_out: Path | None,
    verbose: bool,
) -> None:
    """Run the edge agent: read bracelets over BLE and room cameras, send decisions to the hub; Ctrl-C
    stops it."""
    overrides: dict[str, object] = {
        "site_id": site_id,
        "mqtt.url": mqtt_url,
        "ble.backend": ble_backend,
        "ble.hci_transport": hci_transport,
        "ble.radio": radio,
        "ble.adapter": adapter,
    }
    if bracelet_keys is not None:
        keys = json.loads(bracelet_keys.read_text(encoding="utf-8"))
        overrides["bracelets"] = [{"device_id": device, "key": key} for device, key in sorted(keys.items())]
    try:
        settings = load_settings(EdgeSettings, config_path, overrides=overrides, env_prefix=ENV_PREFIX)
    except ValidationError as exc:
        raise click.ClickException(_describe(exc)) from None
    # Under `qmon`, the group's --log-level already configured logging and this is a no-op.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger().setLevel(logging.DEBUG)
    ble = "off" if settings.rooms and not settings.bracelets else settings.ble.backend
    click.echo(
        f"edge agent {settings.site_id}: {len(settings.bracelets)} bracelets, BLE {ble}, "
        f"{len(settings.rooms)} camera rooms, MQTT {settings.mqtt.url}",
        err=True,
    )
    stats = asyncio.run(_serve(settings))
    if stats_out is not None:
        stats_out.write_text(json.dumps(dataclasses.asdict(stats), sort_keys=True))
    click.echo(
        f"stopped: {stats.adverts_accepted} adverts accepted, {sum(stats.rejected.values())} rejected "
        f"{stats.rejected}, decisions {stats.decisions}, room decisions {stats.room_decisions} "
        f"({stats.frames_analysed} frames analysed)",
        err=True,
    )
