"""``aico gateway status``: the running backend's plugins and their counters.

Printed as aligned lines (no Rich table): the command answers without importing Rich.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from aico.backend.status import read_status
from aico.cli.common import console, settings
from aico.cli.output import Line, visible

app = typer.Typer(help="Inspect the running backend.", no_args_is_help=True)


def _all_running(status: dict[str, Any] | None) -> bool:
    if not status or not status.get("running"):
        return False
    plugins = status.get("plugins") or {}
    return bool(plugins) and all(p.get("state") == "running" for p in plugins.values())


def _figures(plugin: dict[str, Any]) -> list[str]:
    """``k=v`` per figure; a dict of counts (``masked`` by rule) as ``masked.email=3``, or ``masked=0``."""
    out = []
    for k, v in plugin.items():
        if k == "state" or v is None:
            continue
        if isinstance(v, dict):
            out += [f"{k}.{name}={n}" for name, n in sorted(v.items())] or [f"{k}=0"]
        else:
            out.append(f"{k}={v}")
    return out


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    wait: float = typer.Option(0.0, "--wait", metavar="SECONDS",
                               help="Wait up to SECONDS for every plugin to be running; exit 0 once they are."),
    name: str = typer.Option("backend", "--name", help="The backend instance (see aico backend start --name)."),
) -> None:
    """Show the backend's plugins, their state and counters (exit 1 if it is not running)."""
    s = settings()
    deadline = time.monotonic() + wait
    current = read_status(s, name)
    while not _all_running(current) and time.monotonic() < deadline:
        time.sleep(0.1)
        current = read_status(s, name)
    out = console()
    if as_json:
        out.file.write(json.dumps(current or {"running": False}, indent=2) + "\n")
    elif not current:
        out.print(Line(f"backend: not running (no status in {visible(str(s.run_dir))})"))
    else:
        state = "running" if current["running"] else f"not running (last state: {current.get('state')})"
        out.print(Line(f"backend: {state}  pid {current.get('pid')}  since {current.get('started_at')}", style="bold"))
        plugins = current.get("plugins") or {}
        width = max((len(n) for n in plugins), default=6)
        for name, plugin in plugins.items():
            shown = str(plugin.get("state", "?"))
            out.print(Line(f"  {name:<{width}}  ") + Line(f"{shown:<8}", style="green" if shown == "running" else "red")
                      + Line("  " + visible("  ".join(_figures(plugin)))))
    raise typer.Exit(0 if _all_running(current) else 1)
