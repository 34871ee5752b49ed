"""``aico bus test``: probe the message bus."""

from __future__ import annotations

import typer

from aico.bus.curve import bus_keys
from aico.bus.probe import probe
from aico.cli.common import console, settings

app = typer.Typer(help="Message bus tools.", no_args_is_help=True)


@app.command()
def test(timeout: float = typer.Option(3.0, "--timeout", help="Seconds to wait for the probe.")) -> None:
    """Send a probe through the broker and wait for it (exit 0 on success, 1 with a reason)."""
    s = settings()
    bus = s.core.message_bus
    seconds = probe(bus, bus_keys(s), timeout)
    console().print(f"bus ok: probe round trip {seconds * 1000:.1f} ms via {bus.pub_address} -> {bus.sub_address}")
