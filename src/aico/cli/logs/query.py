"""``aico logs ls``, ``count``, ``show`` and ``trace``: finding records and reading them whole."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import typer

from aico.cli.common import console, open_reader, settings
from aico.cli.logs.options import filter_options
from aico.cli.output import LEVEL_STYLES, Line, Output, clean, display_time, error_of, render, shown, shown_row, visible
from aico.errors import AicoError
from aico.schema.timestamps import parse_utc
from aico.store.filters import LogFilter

OUTPUT_HELP = "Output format: pretty, short, json, jsonl, csv, logfmt or raw."


@filter_options(query="argument")
def ls(
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many records (the newest)."),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Newest first."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help=OUTPUT_HELP),
    archives: bool = typer.Option(False, "--archives",
                                  help="Search the daily archives (days rolled out of the live store) instead."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """List the newest matching records, newest last (like journalctl); QUERY searches the messages."""
    if archives:
        from aico.retention.search import search_archives  # the archive reader and its ciphers: only here

        rows = search_archives(settings(), flt, limit)
        if reverse:
            rows.reverse()
        render(rows, output, console(), utc=utc)
        return
    with open_reader() as store:
        rows = list(store.search(replace(flt, limit=limit, reverse=reverse)))
    if not reverse:
        rows.reverse()
    render(rows, output, console(), utc=utc)


@filter_options()
def count(*, flt: LogFilter, utc: bool) -> None:
    """Print how many records match (all of them, without filters)."""
    with open_reader() as store:
        console().file.write(f"{store.count(flt)}\n")


def show(
    record_id: int = typer.Argument(..., metavar="ID", help="The record's id (first column of -o json)."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help="pretty, or any record format."),
    utc: bool = typer.Option(False, "--utc", help="Show the time in UTC."),
) -> None:
    """Show one record whole: every field, extra, error details and the stack."""
    with open_reader() as store:
        row = store.get(record_id)
    if row is None:
        raise AicoError(f"no record with id {record_id}")
    out = console()
    if output is Output.json:
        out.file.write(json.dumps(clean(row), ensure_ascii=False, indent=2) + "\n")
        return
    if output is not Output.pretty:
        render([row], output, out, utc=utc)
        return
    rec = clean(row)
    local = display_time(rec["timestamp"], utc=utc)
    out.print(Line(f"{rec['level']}", style=LEVEL_STYLES.get(rec["level"], "")) + Line(f"  {local}  #{rec['id']}"))
    out.print(Line(visible(rec.get("message") or ""), style="bold"))
    for name, value in rec.items():
        if name in ("message", "extra", "error_details", "level"):
            continue
        out.print(Line(f"  {name:>12}: {shown(value)}"))
    if "extra" in rec:
        out.print("  extra:")
        for line in json.dumps(rec["extra"], ensure_ascii=False, indent=2).splitlines():
            out.print(Line(f"    {visible(line)}"))
    err = error_of(row)
    if err:
        out.print(Line(visible(f"  error: {err.get('type', 'Error')}: {err.get('message', '')}"), style="red"))
        stack = err.get("stack")
        if stack:
            out.print(Line(visible(str(stack).rstrip("\n")), style="red"))


def trace(
    trace_id: str = typer.Argument(..., metavar="TRACE_ID", help="The trace to follow."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help=OUTPUT_HELP),
    utc: bool = typer.Option(False, "--utc", help="Show times in UTC."),
    limit: int = typer.Option(10000, "--limit", "-n", min=1, help="At most this many records."),
) -> None:
    """The correlation view: every record of a trace, frontend and backend, in time order."""
    with open_reader() as store:
        rows = list(store.search(LogFilter(trace_id=trace_id, limit=limit), ascending=True))
    out = console()
    if output is not Output.pretty:
        render(rows, output, out, utc=utc)
        return
    if not rows:
        raise AicoError(f"no records with trace id {trace_id!r}")
    _print_trace(rows, trace_id, out, utc)


def _print_trace(rows: list[dict[str, Any]], trace_id: str, out: Any, utc: bool) -> None:
    start = parse_utc(rows[0]["timestamp"])
    span = (parse_utc(rows[-1]["timestamp"]) - start).total_seconds()
    origins = sorted({r["origin"] or "?" for r in rows})
    errors = sum(1 for r in rows if r["level"] in ("ERROR", "CRITICAL"))
    out.print(Line(f"trace {visible(trace_id)}: {len(rows)} records, {span:.3f} s, origins {', '.join(origins)}, "
                   f"{errors} error{'s' if errors != 1 else ''}", style="bold"))
    out.print(Line(f"started {display_time(rows[0]['timestamp'], utc=utc)}", style="dim"))
    for row in map(shown_row, rows):
        offset = (parse_utc(row["timestamp"]) - start).total_seconds()
        is_error = row["level"] in ("ERROR", "CRITICAL")
        line = Line()
        line.append(f"+{offset:9.3f}s ", style="cyan")
        line.append(f"{(row['origin'] or '?'):<9}", style="blue")
        line.append(f"{row['level']:<8}", style=LEVEL_STYLES.get(row["level"], ""))
        line.append(f" {row['subsystem']}/{row['module']}", style="magenta")
        if row.get("function"):
            line.append(f":{row['function']}", style="magenta")
        line.append(f" {row.get('message') or ''}", style="bold red" if is_error else "")
        line.append(f"  #{row['id']}", style="dim")
        out.print(line)
        err = error_of(row)
        if err:
            out.print(Line(visible(f"{'':>22}{err.get('type', 'Error')}: {err.get('message', '')}"), style="red"))


def register(app: typer.Typer) -> None:
    app.command("ls")(ls)
    app.command("count")(count)
    app.command("show")(show)
    app.command("trace")(trace)
