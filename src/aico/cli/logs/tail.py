"""``aico logs tail [-n N] [-f]``: the last records, then (with -f) each new one as it is stored.

Following polls the store on a read-only connection: a poll reads the highest id, then asks for
the matching records between the last id seen and that one, in arrival order. Each poll is two
short statements (a B-tree edge and a range), so it can run often; new records show within
``FOLLOW_INTERVAL_S`` plus a query. Ctrl-C ends it quietly.
"""

from __future__ import annotations

import time
from dataclasses import replace

import typer

from aico.cli.common import console, open_reader
from aico.cli.logs.options import filter_options
from aico.cli.output import Output, Renderer
from aico.store.filters import LogFilter

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
    with open_reader() as store:
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
                top = store.max_id()
                if top <= last:
                    continue
                for row in store.search(replace(flt, after_id=last, upto_id=top, limit=None),
                                        ascending=True, by_id=True):
                    renderer.row(row)
                renderer.console.file.flush()
                last = top
        except KeyboardInterrupt:
            renderer.console.file.flush()


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)
