"""A click group whose subcommands are imported only when used (start-up stays fast, parts stay apart)."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module, attribute, one-line help)
CommandTable = dict[str, tuple[str, str, str]]


class LazyGroup(click.Group):
    """A click group whose subcommands come from a table of (module, attribute, help), imported when used."""

    def __init__(self, *args: Any, lazy_commands: CommandTable | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: CommandTable = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """All subcommand names."""
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return one subcommand."""
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        command: click.Command = getattr(module, target[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the table, without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, self.lazy_commands[name][2]) for name in sorted(self.lazy_commands)])
