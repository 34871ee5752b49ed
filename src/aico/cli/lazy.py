"""Command groups that import a command's module only when that command runs.

``aico logs count`` has no use for the analytics' DuckDB, the bridge's token code or the archive
reader; importing every command's module to build the whole tree cost ~0.4 s of each run. A
:class:`LazyGroup` knows its commands by name, module and one-line help (a table, checked against
the modules by a test), so listing them (``--help``, shell completion) imports nothing, and
running one imports its own module alone.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer._click import Command, Context
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    """Where a command lives: ``module``'s Typer ``app`` (a group), or the command ``name`` in it."""

    module: str
    help: str
    command: str | None = None  # None: the module's whole app is this group

    def load(self, name: str) -> Command:
        module = importlib.import_module(self.module)
        if self.command is None:  # the module's app as a group (alone, Typer would flatten a group of one)
            root = typer.Typer()
            root.add_typer(module.app, name=name)
            return typer.main.get_command(root).commands[name]  # type: ignore[attr-defined,no-any-return]
        app = typer.Typer()
        module.register(app)
        built = typer.main.get_command(app)
        if isinstance(built, TyperGroup):
            found = built.commands.get(self.command)
            if found is None:
                raise LookupError(f"{self.module} has no command {self.command!r}")
            return found
        return built  # a module of one command: Typer gives the command itself


class LazyGroup(TyperGroup):
    """A Typer group whose commands come from :attr:`table` and load on first use."""

    table: ClassVar[dict[str, Entry]] = {}
    _listing = False  # while help or completion lists the commands: placeholders, nothing imported

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.table, *(name for name in super().list_commands(ctx) if name not in self.table)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        entry = self.table.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=entry.help)
        command = self.commands.get(cmd_name)
        if command is None:
            command = self.commands[cmd_name] = entry.load(cmd_name)
        return command

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Context, incomplete: str) -> list[Any]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False


def lazy_app(table: dict[str, Entry], **options: Any) -> typer.Typer:
    """A Typer app whose commands are ``table``'s, loaded on use (``options`` as ``typer.Typer`` takes them)."""
    app = typer.Typer(cls=type("LazyGroup", (LazyGroup,), {"table": table}), **options)

    @app.callback()
    def group() -> None:  # Typer builds no group without a command or a callback; the commands come from table
        pass

    return app


def every_command(app: typer.Typer) -> dict[str, Command]:
    """Each command of ``app``'s group by name, its module imported (for the docs' tests: everything at once)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    ctx = Context(group)
    return {name: command for name in group.list_commands(ctx) if (command := group.get_command(ctx, name))}
