"""``aico logs``: search, follow, count, export and prune the encrypted log store.

One Typer group; each module holds a few of its commands: ``query`` (ls, count, show, trace),
``tail``, ``stats``, ``export``, ``admin`` (sql, rm).
"""

from __future__ import annotations

import typer

from aico.cli.logs import admin, export, query, stats, tail

app = typer.Typer(help="Search, tail, count, export and prune the stored logs.", no_args_is_help=True)
for module in (query, tail, stats, export, admin):
    module.register(app)

__all__ = ["app"]
