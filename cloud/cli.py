"""`qmon hub` (run the hub) and `qmon users` (manage officer accounts); registered by qmon/cli.py."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from cloud.access import STAFF
from cloud.auth import Passwords, create_officer
from cloud.errors import InvalidRequestError
from cloud.settings import HubSettings, load_hub_settings
from cloud.storage.migrate import upgrade
from cloud.storage.repository import Repository
from qmon.clock import SystemClock

_config_option = click.option(
    "--config",
    "config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON settings file.",
)
_database_option = click.option("--database-url", default=None, help="SQLAlchemy URL of the hub's database.")


def _settings(config: Path | None, overrides: dict[str, Any]) -> HubSettings:
    try:
        return load_hub_settings(config, overrides)
    except (ValidationError, ValueError) as exc:
        raise click.ClickException(f"invalid hub settings:\n{exc}") from None


@click.command("hub")
@_config_option
@click.option("--mqtt-url", default=None, help="Broker URL, mqtt://host:port.")
@_database_option
@click.option("--host", default=None, help="Address of the REST API (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port of the REST API (default 8642).")
def hub_command(
    config: Path | None, mqtt_url: str | None, database_url: str | None, host: str | None, port: int | None
) -> None:
    """Run the cloud hub: MQTT ingest, rules, alerts, REST API and SSE (settings also from QMON_HUB__*)."""
    settings = _settings(
        config, {"mqtt.url": mqtt_url, "database_url": database_url, "http_host": host, "http_port": port}
    )
    if settings.auto_migrate:
        upgrade(settings.database_url)
    from cloud.app import HubServer, serve_hub

    def announce(server: HubServer) -> None:
        click.echo(f"qmon hub: API on {server.url}, MQTT {settings.mqtt.url}, database {_safe_url(settings)}")

    async def run() -> None:
        # SIGTERM (service managers, containers) stops the hub as cleanly as Ctrl-C does.
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve_hub(settings, on_started=announce)

    asyncio.run(run())
    click.echo("qmon hub: stopped")


@click.group("users")
def users_command() -> None:
    """Manage officer accounts of the hub."""


@users_command.command("add")
@_config_option
@_database_option
@click.option("--username", required=True, help="Login name (lowercase letters, digits, . _ -).")
@click.option(
    "--role",
    type=click.Choice(sorted(r.value for r in STAFF)),
    required=True,
    help="What the officer or staff member may do (citizens register themselves).",
)
@click.option("--ward", "wards", multiple=True, help="A ward the officer serves (repeat for several).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (else prompt).")
def add_user(
    config: Path | None,
    database_url: str | None,
    username: str,
    role: str,
    wards: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Create an officer account."""
    if database_url is None:  # the hub's own settings (file, QMON_HUB__*) say where its database is
        settings = _settings(config, {})
        database_url, migrate = settings.database_url, settings.auto_migrate
    else:
        migrate = True
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if migrate:
        upgrade(database_url)
    repository = Repository.from_url(database_url)
    try:
        officer = create_officer(
            repository,
            Passwords(),
            SystemClock(),
            username=username,
            password=password,
            role=role,
            wards=list(wards),
        )
    except InvalidRequestError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        repository.close()
    click.echo(f"added {officer.role} {officer.username} (wards: {', '.join(officer.wards) or 'all'})")


def _safe_url(settings: HubSettings) -> str:
    from sqlalchemy import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)
