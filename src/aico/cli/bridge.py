"""``aico bridge``: the frontend bridge's token and address, for clients and curl."""

from __future__ import annotations

import typer

from aico.bridge.auth import load_token, token_path
from aico.cli.common import console, settings

app = typer.Typer(help="The frontend bridge (HTTP and WebSocket log ingestion for web and app frontends).",
                  no_args_is_help=True)


@app.command()
def token(
    path: bool = typer.Option(False, "--path", help="Print where the token file is instead of the token."),
) -> None:
    """Print the bridge's bearer token (made now, mode 0600, if the backend has not made it yet)."""
    s = settings()
    console().file.write(f"{token_path(s) if path else load_token(s)}\n")


@app.command()
def url() -> None:
    """Print the bridge's base address from the configuration (core.bridge.host and port)."""
    cfg = settings().core.bridge
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    console().file.write(f"http://{host}:{cfg.port}\n")
