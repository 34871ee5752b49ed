"""``aico logs``: read the encrypted log store."""

from __future__ import annotations

import typer

from aico.cli.common import console, open_reader
from aico.cli.output import Output, render
from aico.errors import QueryError, ValidationError
from aico.schema.levels import at_least

app = typer.Typer(help="Search, tail and count the stored logs.", no_args_is_help=True)


def _levels(level: str | None) -> list[str] | None:
    if not level:
        return None
    try:
        return at_least(level)
    except ValidationError as exc:
        raise QueryError(f"--level: {exc.errors[0].message}") from None


@app.command("ls")
def ls(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many records (the newest)."),
    level: str = typer.Option(None, "--level", "-p", help="This level and above (debug, info, warning, ...)."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help="Output format."),
) -> None:
    """List the newest records, oldest first (like journalctl)."""
    levels = _levels(level)
    with open_reader() as store:
        rows = store.recent(limit=limit, levels=levels)
    render(rows, output, console())


@app.command()
def count() -> None:
    """Print the number of stored records."""
    with open_reader() as store:
        console().file.write(f"{store.count()}\n")
