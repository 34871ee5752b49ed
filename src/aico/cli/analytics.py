"""``aico analytics``: the scrubbed, encrypted DuckDB copy of the logs."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from aico.cli.common import console, settings

app = typer.Typer(help="ETL the logs into an encrypted DuckDB (scrubbed of private data), query it, report.",
                  no_args_is_help=True)


class QueryOutput(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@app.command()
def etl(
    full: bool = typer.Option(False, "--full", help="Rebuild from the first record instead of the watermark."),
    parquet: Path = typer.Option(None, "--parquet", help="Also keep a day-partitioned Parquet copy in DIR.",
                                 metavar="DIR", file_okay=False),
    as_json: bool = typer.Option(False, "--json", help="Print the run's figures as JSON."),
) -> None:
    """Bring the analytics database up to date with the log store (incremental by default)."""
    from aico.analytics.etl import run_etl

    result = run_etl(settings(), full=full, parquet_dir=parquet)
    out = console()
    if as_json:
        out.file.write(json.dumps(result.as_dict(), indent=2) + "\n")
        return
    out.print(f"{result.mode} run: source ids {result.watermark_from} -> {result.watermark_to}, "
              f"{result.scanned} records read, {result.loaded} loaded, {result.filtered} filtered out, "
              f"{result.invalid} invalid, {result.pruned} pruned (retention)")
    scrubbed = ", ".join(f"{k} {v}" for k, v in result.scrubbed.items()) or "nothing"
    out.print(f"scrubbed: {scrubbed}")
    if result.promoted:
        out.print(f"new typed columns: {', '.join(result.promoted)}")
    out.print(f"rollups: {result.rollup_days} days recomputed; {result.seconds:.2f} s "
              f"({result.records_per_s:,.0f} records/s)")
    if result.parquet:
        p = result.parquet
        out.print(f"parquet: {p['directory']} ({'full' if p['full'] else 'incremental'}, "
                  f"{p['days_written']} days written, {p['days_removed']} removed)")


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL over logs, errors_by_module_day, records_by_level_hour, "
                                         "error_types_by_day, etl_runs ..."),
    output: QueryOutput = typer.Option(QueryOutput.table, "--output", "-o", help="Output format."),
) -> None:
    """Run a read-only SQL query on the analytics database."""
    from aico.analytics.query import run_query

    result = run_query(settings(), sql)
    out = console()
    if output is QueryOutput.json:
        rows = [{c: _plain(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows]
        out.file.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
    elif output is QueryOutput.csv:
        writer = csv.writer(out.file, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_plain(v) for v in row] for row in result.rows])
    else:
        table = Table(*result.columns, show_lines=False)
        for row in result.rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
        out.print(table)
        out.print(f"({len(result.rows)} rows)")


def _spark(values: list[int]) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    top = max(values) if values else 0
    return "".join(bars[0] if not v else bars[max(1, round(v / top * (len(bars) - 1)))] for v in values)


@app.command()
def report(
    days: int = typer.Option(7, "--days", min=1, max=366, help="Length of the period (ending today, UTC)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """A readable summary: totals, error trends per module, new error types, the last ETL run."""
    from aico.analytics.report import build_report

    data = build_report(settings(), days=days)
    out = console()
    if as_json:
        out.file.write(json.dumps(data, indent=2, default=_plain) + "\n")
        return
    period, prev = data["totals"]["period"], data["totals"]["previous"]
    out.print(f"[bold]Analytics report[/bold] {data['period']['from']} .. {data['period']['to']} "
              f"({days} days, compared with the {days} before)")
    out.print(f"records {period['records']} (before: {prev['records']}), warnings {period['warnings']} "
              f"({prev['warnings']}), errors {period['errors']} ({prev['errors']}), "
              f"critical {period['criticals']} ({prev['criticals']})")
    modules = Table("module", "errors", "before", "change", "per day", "records", title="Error trends per module")
    for m in data["modules"]:
        change = m["errors"] - m["previous_errors"]
        modules.add_row(f"{m['subsystem']}/{m['module']}", str(m["errors"]), str(m["previous_errors"]),
                        f"{change:+d}", _spark(m["daily"]), str(m["records"]))
    out.print(modules if data["modules"] else "no errors in the period")
    types = Table("error type", "stack", "count", "first seen", "module", "example", title="New error types")
    for t in data["new_error_types"]:
        types.add_row(t["error_type"] or "?", t["stack_hash"], str(t["occurrences"]),
                      _plain(t["first_seen"])[:19], t["module"] or "", (t["sample_message"] or "")[:60])
    out.print(types if data["new_error_types"] else "no new error types in the period")
    run = data["last_run"]
    if run:
        out.print(f"last ETL run: {_plain(run['finished_at'])[:19]} ({run['mode']}), {run['loaded']} records "
                  f"loaded in {run['seconds']:.1f} s; watermark {data['watermark']}")
