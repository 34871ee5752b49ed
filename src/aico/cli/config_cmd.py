"""``aico config show``: the effective configuration."""

from __future__ import annotations

import json

import typer
import yaml

from aico.cli.common import console, settings

app = typer.Typer(help="Configuration.", no_args_is_help=True)


@app.command()
def show(as_json: bool = typer.Option(False, "--json", help="Print as JSON instead of YAML.")) -> None:
    """Print the effective configuration: defaults < $AICO_HOME/config/core.yaml < AICO_* variables."""
    s = settings()
    data = {"home": str(s.home), "core": s.core.model_dump(mode="json")}
    text = json.dumps(data, indent=2) if as_json else yaml.safe_dump(data, sort_keys=False)
    console().file.write(text if text.endswith("\n") else text + "\n")
