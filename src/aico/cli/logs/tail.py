"""``aico logs tail [-n N] [-f]``: the last records, then (with -f) each new one as it is stored.

Following polls the store on a read-only connection: a poll reads the highest id, then asks for
the matching records between the last id seen and that one, in arrival order. Each poll is two
short statements (a B-tree edge and a range), so it can run often; new records show within
``FOLLOW_INTERVAL_S`` plus a query. Ctrl-C ends it quietly.

A key rotation (``aico keys rotate db``) needs the store to itself: before each poll the
follower looks at the rekey gate (``store/rekey_gate.py``) and, while a rotation waits, closes
its connection; the next open waits for the rotation's end and reads the new key. A poll that
meets a store re-keyed under it ("not a database") opens it again once, with the key now current.
"""

from __future__ import annotations

import time
from dataclasses import replace

import typer

from aico.cli.common import console, open_reader
from aico.cli.logs.options import filter_options
from aico.cli.output import Output, Renderer
from aico.errors import EncryptionKeyError
from aico.store import rekey_gate
from aico.store.filters import LogFilter
from aico.store.repository import LogStore

FOLLOW_INTERVAL_S = 0.2


@filter_options(query="argument")
def tail(
    lines: int = typer.Option(10, "--lines", "-n", min=0, help="How many of the newest records to show first."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new records until Ctrl-C."),
    output: Output = typer.Option(Output.pretty, "--output", "-o",
                                  help="Output format: pretty, short, jsonl, csv, logfmt or raw."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """Show the last N matching records; with -f, keep showing new ones as they arrive."""
    if follow and output is Output.json:
        output = Output.jsonl  # a JSON array never ends while following: one object a line instead
    renderer = Renderer(output, console(), utc=utc)
    store = open_reader()
    try:
        last = store.max_id()
        newest = list(store.search(replace(flt, upto_id=last, limit=lines))) if lines else []
        for row in reversed(newest):
            renderer.row(row)
        renderer.console.file.flush()
        if not follow:
            renderer.close()
            return
        try:
            while True:
                time.sleep(FOLLOW_INTERVAL_S)
                if rekey_gate.pending(store.path):
                    store.close()
                    store = open_reader()  # waits for the rotation, then opens with the new key
                try:
                    last = _show_new(store, flt, last, renderer)
                except EncryptionKeyError:  # re-keyed under this connection: once more with the current key
                    store.close()
                    store = open_reader()
                    last = _show_new(store, flt, last, renderer)
        except KeyboardInterrupt:
            renderer.console.file.flush()
    finally:
        store.close()


def _show_new(store: LogStore, flt: LogFilter, last: int, renderer: Renderer) -> int:
    """Print the records of ``flt`` stored after id ``last``; the id to go on from."""
    top = store.max_id()
    if top <= last:
        return last
    for row in store.search(replace(flt, after_id=last, upto_id=top, limit=None), ascending=True, by_id=True):
        renderer.row(row)
    renderer.console.file.flush()
    return top


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)
