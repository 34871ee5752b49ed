"""``aico bus test``: probe the message bus."""

from __future__ import annotations

from pathlib import Path

import typer

from aico.bus import allowlist
from aico.bus.curve import ALLOW_FILE, bus_keys
from aico.bus.probe import probe
from aico.cli.common import console, settings
from aico.errors import ConfigError

app = typer.Typer(help="Message bus tools.", no_args_is_help=True)


@app.command()
def test(timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for the probe.")) -> None:
    """Send a probe through the broker and wait for it (exit 0 on success, 1 with a reason)."""
    s = settings()
    bus = s.core.message_bus
    seconds = probe(bus, bus_keys(s), timeout)
    console().print(f"bus ok: probe round trip {seconds * 1000:.1f} ms via {bus.pub_address} -> {bus.sub_address}")


allow_app = typer.Typer(help="Other machines' CURVE public keys the broker admits (no restart needed).",
                        no_args_is_help=True)
app.add_typer(allow_app, name="allow")


def _allow_file() -> Path:
    return settings().keys_dir / ALLOW_FILE


@allow_app.command("add")
def allow_add(key: str = typer.Argument(..., help="The client's CURVE public key (Z85, 40 characters)."),
              note: str = typer.Option("", "--note", help="Who the key is (kept as a comment).")) -> None:
    """Admit a client public key; the running broker takes it for the next connection."""
    added = allowlist.add(_allow_file(), key, note)
    console().print(f"{'admitted' if added else 'already admitted'}: {key.strip()}")


@allow_app.command("rm")
def allow_rm(key: str = typer.Argument(..., help="The public key to stop admitting.")) -> None:
    """Stop admitting a client public key (connections already open stay until they close)."""
    if not allowlist.remove(_allow_file(), key):
        raise ConfigError(f"{key.strip()} is not in the allow-list ({_allow_file()})")
    console().print(f"no longer admitted: {key.strip()}")


@allow_app.command("ls")
def allow_ls() -> None:
    """The admitted public keys, with their notes."""
    entries = allowlist.entries(_allow_file())
    for key, note in entries:
        console().print(f"{key}  {note}".rstrip())
    if not entries:  # said on stderr: the list itself (stdout) stays empty for scripts
        console(stderr=True).print("no other machine's key is admitted (aico bus allow add KEY [NOTE])")
