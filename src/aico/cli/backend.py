"""``aico backend``: run the backend service container."""

from __future__ import annotations

import os

import typer

from aico.backend.container import Container
from aico.cli.common import settings
from aico.config.private import private_dir, tighten_and_say
from aico.errors import AicoError
from aico.store import LogStore

app = typer.Typer(help="Run the backend: message bus broker, log consumer and the other plugins.",
                  no_args_is_help=True)


@app.command()
def start(
    plugins: str = typer.Option(None, "--plugins", help="Comma-separated plugins to run (default: from config)."),
    name: str = typer.Option("backend", "--name", help="Instance name, when several run on one home (status file)."),
) -> None:
    """Start the backend in the foreground; Ctrl-C (or SIGTERM) stops it cleanly."""
    s = settings()
    names = [p.strip() for p in plugins.split(",") if p.strip()] if plugins else None
    if s.home.exists() and not os.access(s.home, os.W_OK):
        raise AicoError(f"{s.home} is read-only: the backend writes its store, spool and status there")
    private_dir(s.home)
    tighten_and_say(s.home)
    if s.database_path.exists():  # a wrong or missing key is one line and exit 3, before any plugin starts
        with LogStore.open(s):
            pass
    from aico.backend.memory import few_arenas

    few_arenas()  # before its threads start: they share two malloc arenas, as its children do
    Container(s, names, name).run_forever()
