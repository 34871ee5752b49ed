"""``aico logs sql`` (read-only SQL, like lnav's SQL mode) and ``aico logs rm`` (prune, with consent)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from enum import StrEnum

import typer
from rich.table import Column, Table
from rich.text import Text

from aico.cli.common import console, open_reader, settings
from aico.cli.logs.options import filter_options
from aico.cli.output import shown, visible
from aico.errors import QueryError
from aico.schema.timeexpr import parse_time
from aico.store.filters import LogFilter
from aico.store.repository import LogStore


class SqlOutput(StrEnum):
    pretty = "pretty"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def sql(
    statement: str = typer.Argument(..., metavar="SQL", help='One SELECT, e.g. "SELECT level, count(*) FROM logs '
                                                             'GROUP BY level".'),
    output: SqlOutput = typer.Option(SqlOutput.pretty, "--output", "-o", help="pretty (a table), json, jsonl or csv."),
    limit: int = typer.Option(1000, "--limit", "-n", min=1, help="At most this many rows."),
) -> None:
    """Run read-only SQL over the logs table (and logs_fts, rejects); anything that writes is refused."""
    out = console()
    with open_reader() as store:
        names, rows = store.query(statement)
        count = 0
        if output is SqlOutput.pretty:
            table = Table(*(Column(header=Text(visible(n))) for n in names))
            for row in rows:
                if count == limit:
                    out.print(table)
                    out.print(f"(first {limit} rows; raise --limit for more)", style="dim")
                    return
                table.add_row(*(Text("NULL" if v is None else visible(str(v))) for v in row))
                count += 1
            out.print(table)
            return
        writer = csv.writer(out.file, lineterminator="\n") if output is SqlOutput.csv else None
        if writer is not None:
            writer.writerow(names)
        if output is SqlOutput.json:
            out.file.write("[")
        for row in rows:
            if count == limit:
                break
            if writer is not None:
                writer.writerow([shown(v) for v in row])
            elif output is SqlOutput.json:
                out.file.write(("\n" if count == 0 else ",\n") + json.dumps(dict(zip(names, row, strict=True)),
                                                                            ensure_ascii=False, default=repr))
            else:
                out.file.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, default=repr) + "\n")
            count += 1
        if output is SqlOutput.json:
            out.file.write("\n]\n" if count else "]\n")


@filter_options()
def rm(
    before: str = typer.Option(None, "--before", "--older-than", metavar="TIME", show_default=False,
                               help="Records older than this: 7d, 2w, an ISO-8601 date or time, yesterday."),
    everything: bool = typer.Option(False, "--all", help="Allow removing every record (no filter given)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """Remove matching records (asks first, unless --yes); says how many were removed."""
    if before:
        cutoff = parse_time(before, option="--before", utc=utc)
        flt = replace(flt, until=min(cutoff, flt.until) if flt.until else cutoff)
    if flt.is_everything() and not everything:
        raise QueryError("--before: give a time or a filter saying what to remove (or --all for every record)")
    out = console()
    with open_reader() as store:
        top = store.max_id()
        flt = replace(flt, upto_id=top)  # what was counted is what is removed, not what arrives meanwhile
        count = store.count(flt)
    if count == 0:
        out.print("nothing to remove: no record matches")
        return
    described = ", ".join(f"{k}={v!r}" for k, v in flt.conditions().items()) or "every record"
    if not yes and not typer.confirm(f"Remove {count} records ({described})?", default=False):
        out.print("nothing removed")
        raise typer.Exit(1)
    with LogStore.open(settings(), writer=True) as store:
        removed = store.delete(flt)
        store.reclaim()  # the rows' pages and their full-text index entries go back to the file system
    out.print(f"removed {removed} records")


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
    app.command("rm")(rm)
