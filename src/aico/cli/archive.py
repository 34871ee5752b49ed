"""``aico logs archive``: run retention by hand, list, restore and search the daily archives."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

import typer
from rich.table import Table

from aico.cli.common import console, settings
from aico.cli.output import Output, render
from aico.errors import AicoError, QueryError, StoreError, ValidationError
from aico.retention.archives import archive_dir, iter_archive_records, list_archives
from aico.retention.job import RetentionJob
from aico.retention.policy import MIB
from aico.retention.restore import restore_day
from aico.schema.levels import at_least
from aico.schema.timestamps import normalize_timestamp
from aico.store.repository import LogStore

app = typer.Typer(help="Daily encrypted archives: run retention now, list, restore a day, search.",
                  no_args_is_help=True)


def _mb(n: int | None) -> str:
    """A size for people: KB under a megabyte, MB above."""
    if n is None:
        return "-"
    return f"{n / 1024:.1f} KB" if n < MIB else f"{n / MIB:.2f} MB"


@app.command()
def run(as_json: bool = typer.Option(False, "--json", help="Print the run report as JSON.")) -> None:
    """Run retention now: delete expired days, archive days past hot_days, hold the size cap."""
    report = RetentionJob(settings()).run("manual")
    out = console()
    if as_json:
        out.file.write(json.dumps(report.as_dict(), indent=2) + "\n")
    else:
        if report.store_missing:
            out.print("no log store yet: only expired archives were checked")
        for a in report.archived:
            early = " (early)" if a["early"] else ""
            out.print(f"archived {a['day']}: {a['records']} records, {a['deleted_rows']} rows left the database, "
                      f"{_mb(a['file_bytes'])}{early}")
        if report.expired_days:
            out.print(f"deleted {len(report.expired_days)} expired days ({report.expired_rows} rows, "
                      f"{len(report.expired_archives)} archives): {', '.join(report.expired_days)}")
        if report.early_deleted_archives:
            out.print(f"disk under the floor: deleted archives early: {', '.join(report.early_deleted_archives)}")
        out.print(f"database {_mb(report.size_before)} -> {_mb(report.size_after)} on disk "
                  f"(cap {_mb(report.size_cap)}); free disk {_mb(report.disk_free_after)}"
                  + (" (under the floor)" if report.disk_low else ""))
    if report.errors:
        for err in report.errors:
            console(stderr=True).print(f"aico: error: {err}")
        raise typer.Exit(1)


@app.command("ls")
def ls(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the archives (day, records, sizes) and the days still in the database."""
    s = settings()
    listing = list_archives(s)
    hot: dict[str, int] = {}
    if s.database_path.exists():
        with LogStore.open(s) as store:
            hot = store.day_counts()
    out = console()
    if as_json:
        data = {"archive_dir": str(archive_dir(s)), "archives": [a.as_dict() for a in listing], "database": hot}
        out.file.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table("day", "where", "records", "size", "raw", "ratio", "status", box=None, pad_edge=False)
    for a in listing:
        sm = a.summary
        ratio = f"{sm.payload_bytes / a.file_bytes:.1f}x" if sm and a.file_bytes else "-"
        table.add_row(a.day, f"archive ({sm.compression})" if sm else "archive", str(sm.records) if sm else "-",
                      _mb(a.file_bytes), _mb(sm.payload_bytes if sm else None), ratio, a.error or "ok")
    for day, n in hot.items():
        table.add_row(day, "database", str(n), "", "", "", "ok")
    if not listing and not hot:
        out.print(f"no archives in {archive_dir(s)} and no days in the database")
        return
    out.print(table)


@app.command()
def restore(day: str = typer.Argument(..., help="The day to bring back, YYYY-MM-DD.")) -> None:
    """Copy one day from its archive back into the database; rows already there are not duplicated."""
    result = restore_day(settings(), day)
    console().print(f"restored {result['restored']} of {result['records']} records of {result['day']} "
                    f"({result['already_present']} were already in the database); it stays in the database "
                    f"until {result['pinned_until']}, then returns to its archive")


def _bound(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        return normalize_timestamp(text)
    except ValueError as exc:
        raise QueryError(f"{name}: {exc}") from None


def search_records(records: Iterable[dict[str, Any]], *, levels: list[str] | None, module: str | None,
                   since: str | None, until: str | None, grep: str | None) -> Iterator[dict[str, Any]]:
    """The records that pass the basic filters (level set, module prefix, time range, text)."""
    needle = grep.lower() if grep else None
    for r in records:
        if levels and r["level"] not in levels:
            continue
        if module and not (r["module"] == module or r["module"].startswith(module + ".")):
            continue
        if since and r["timestamp"] < since:
            continue
        if until and r["timestamp"] >= until:
            continue
        if needle and needle not in (r.get("message") or "").lower():
            continue
        yield r


@app.command()
def search(
    level: str = typer.Option(None, "--level", "-p", help="This level and above (debug, info, warning, ...)."),
    module: str = typer.Option(None, "--module", "-m", help="This module and its submodules (a.b matches a.b.c)."),
    since: str = typer.Option(None, "--since", help="From this time on (ISO-8601: 2026-11-01, 2026-11-01T10:00Z)."),
    until: str = typer.Option(None, "--until", help="Before this time (ISO-8601)."),
    grep: str = typer.Option(None, "--grep", "-g", help="Message contains this text (case-insensitive)."),
    limit: int = typer.Option(50, "--limit", "-n", min=0, help="How many records (the newest); 0 for all."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help="Output format."),
) -> None:
    """Search the archived days (the live database is searched by `aico logs ls`)."""
    try:
        levels = at_least(level) if level else None
    except ValidationError as exc:
        raise QueryError(f"--level: {exc.errors[0].message}") from None
    lo, hi = _bound(since, "--since"), _bound(until, "--until")
    s = settings()
    try:
        found = search_records(iter_archive_records(s, since=lo, until=hi), levels=levels, module=module,
                               since=lo, until=hi, grep=grep)
        rows: Iterable[dict[str, Any]] = deque(found, maxlen=limit) if limit else list(found)
    except AicoError:
        raise
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read the archives: {exc}") from exc
    render(rows, output, console())
