"""``aico db``: facts about the encrypted store."""

from __future__ import annotations

import json

import typer

from aico.cli.common import console, open_reader

app = typer.Typer(help="The encrypted log store.", no_args_is_help=True)


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Path, size, cipher, record counts, oldest and newest record, applied migrations."""
    with open_reader() as store:
        facts = store.info()
    out = console()
    if as_json:
        out.file.write(json.dumps(facts, indent=2) + "\n")
        return
    for key, value in facts.items():
        out.print(f"{key:>15}: {value}")
