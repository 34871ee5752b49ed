"""``aico logs archive``: run retention by hand, list, restore and search the daily archives."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from aico.cli.common import console, settings
from aico.cli.logs.options import filter_options
from aico.cli.output import Output, render
from aico.errors import AicoError, StoreError
from aico.retention.archives import archive_dir, list_archives
from aico.retention.job import RetentionJob
from aico.retention.policy import MIB
from aico.retention.restore import restore_day
from aico.retention.search import search_archives
from aico.store.filters import LogFilter
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


@app.command()
@filter_options(query="argument")
def search(
    limit: int = typer.Option(50, "--limit", "-n", min=0, help="How many records (the newest); 0 for all."),
    reverse: bool = typer.Option(False, "--reverse", "-r", help="Newest first."),
    output: Output = typer.Option(Output.pretty, "--output", "-o", help="Output format."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """Search the archived days, with every filter of `aico logs ls` (the same as `aico logs ls --archives`)."""
    try:
        rows = search_archives(settings(), flt, limit or None)
    except AicoError:
        raise
    except (OSError, ValueError) as exc:
        raise StoreError(f"cannot read the archives: {exc}") from exc
    if reverse:
        rows.reverse()
    render(rows, output, console(), utc=utc)
