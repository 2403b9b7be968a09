"""`qmon broker`: run the embedded broker on its own, or render Mosquitto's ACL for production."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import click

from gateway.acl import render_mosquitto_acl
from qmon.embedded_broker import EmbeddedBroker


@click.group(name="broker")
def broker_command() -> None:
    """The MQTT broker: embedded (amqtt) for trials, Mosquitto files for production."""


@broker_command.command(name="run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option(
    "--port", default=18830, show_default=True, help="TCP port (never 1883: a real broker may hold it)."
)
def run_broker(host: str, port: int) -> None:
    """Run the embedded amqtt broker (anonymous, loopback only) until Ctrl-C."""

    async def serve() -> None:
        broker = EmbeddedBroker(host=host, port=port)
        await broker.start()
        click.echo(f"embedded MQTT broker on {broker.url} (Ctrl-C to stop)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await broker.stop()

    asyncio.run(serve())


@broker_command.command(name="acl")
@click.option(
    "--hub-user",
    "hub_users",
    multiple=True,
    default=["hub"],
    show_default=True,
    help="Account(s) the hub uses; may read every site's topics and send each site its commands.",
)
def print_acl(hub_users: tuple[str, ...]) -> None:
    """Print a Mosquitto acl_file: each site publishes only under its own id and reads only its commands."""
    click.echo(render_mosquitto_acl(list(hub_users)), nl=False)
