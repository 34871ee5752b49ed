"""``aico dashboard``: the log dashboard's address (with its login link) and opening it in a browser."""

from __future__ import annotations

import html
import time
import webbrowser

import typer

from aico.backend.status import read_status
from aico.cli.common import console, settings
from aico.config.private import private_dir
from aico.config.settings import Settings
from aico.dashboard import logins
from aico.dashboard.auth import load_token, token_path
from aico.keys import write_secret_file

app = typer.Typer(help="The log dashboard in the browser (search, histogram, traces, live tail).",
                  no_args_is_help=True)
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def address(s: Settings) -> str:
    """The dashboard's base address: the running plugin's port if a backend runs it, else the configured one."""
    cfg = s.core.dashboard
    port = cfg.port
    current = read_status(s) or {}
    plugin = (current.get("plugins") or {}).get("log_dashboard") or {}
    if current.get("running") and plugin.get("port"):
        port = int(plugin["port"])
    host = WILDCARDS.get(cfg.host, cfg.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def login_link(s: Settings) -> str:
    """The address with a new one-time login code in its fragment (never sent to a server: the page
    trades it once for a session cookie; it expires in ``logins.LOGIN_TTL_S`` seconds)."""
    base = address(s)
    return f"{base}#login={logins.mint(s, now=time.time())}" if s.core.dashboard.auth else base


@app.command()
def url(
    plain: bool = typer.Option(False, "--plain", help="The address alone, without a login code."),
) -> None:
    """Print a login link: the dashboard's address and a one-time code after '#' (works once, for minutes)."""
    s = settings()
    console().file.write(f"{address(s) if plain else login_link(s)}\n")


def launcher(s: Settings, link: str) -> str:
    """A page (mode 0600, in the run folder) that sends the browser on to ``link``: a browser's command
    line is readable by every user of the machine, so the login code never goes on it (as Jupyter does)."""
    path = s.run_dir / "dashboard-open.html"
    private_dir(path.parent)
    path.unlink(missing_ok=True)
    target = html.escape(link, quote=True)
    write_secret_file(path, f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
                            f'<title>aico logs</title><p><a href="{target}">Open the aico log dashboard</a></p>\n')
    return path.as_uri()


@app.command("open")
def open_() -> None:
    """Open the dashboard in your web browser, logged in."""
    s = settings()
    link = login_link(s)
    if not webbrowser.open(launcher(s, link) if s.core.dashboard.auth else link):
        console(stderr=True).print(f"no browser could be started here; open this link yourself:\n{link}",
                                   markup=False)
        raise typer.Exit(1)


@app.command()
def token(
    path: bool = typer.Option(False, "--path", help="Print where the token file is instead of the token."),
) -> None:
    """Print the dashboard's bearer token, for its API (curl -H 'Authorization: Bearer ...')."""
    s = settings()
    console().file.write(f"{token_path(s) if path else load_token(s)}\n")
