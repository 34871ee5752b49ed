"""``aico logs stats``: counts and error rates, grouped, with the store's size and age."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from aico.cli.common import console, open_reader
from aico.cli.logs.options import filter_options
from aico.cli.output import display_time, visible
from aico.store.filters import LogFilter


class By(StrEnum):
    level = "level"
    subsystem = "subsystem"
    module = "module"
    topic = "topic"
    origin = "origin"
    hour = "hour"
    day = "day"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@filter_options(grep=False)
def stats(
    by: By = typer.Option(By.level, "--by", help="Group by level, subsystem, module, topic, origin, hour or day."),
    top: int = typer.Option(10, "--top", min=1, help="How many modules to list by errors."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """Counts and error rates by a field or by hour/day, top modules by errors, size, age and recent rate."""
    with open_reader() as store:
        facts = store.stats(flt, by=by.value, top=top)
    out = console()
    if as_json:
        out.file.write(json.dumps(facts, indent=2) + "\n")
        return
    _print(facts, out, utc)


def _print(facts: dict[str, Any], out: Any, utc: bool) -> None:
    def when(stamp: str | None) -> str:
        return display_time(stamp, utc=utc) if stamp else "-"

    out.print(f"records: {facts['records']}   errors: {facts['errors']} ({facts['error_rate']:.2%})   "
              f"store size: {_size(facts['size_bytes'])}")
    out.print(f"oldest: {when(facts['oldest'])}   newest: {when(facts['newest'])}")
    rates = facts["records_per_second"]
    out.print("recent rate (records/s by record time): "
              + "   ".join(f"last {window}: {value:g}" for window, value in rates.items()))
    by = facts["by"]
    label = f"{by} (UTC)" if by in ("hour", "day") else by
    table = Table(label, "records", "errors", "error rate", title=f"by {by}", title_justify="left")
    for group in facts["groups"]:
        table.add_row(Text(visible(str(group[by]))), str(group["records"]), str(group["errors"]),
                      f"{group['error_rate']:.2%}")
    out.print(table)
    if facts["top_error_modules"]:
        errors = Table("module", "errors", title="modules with most errors", title_justify="left")
        for row in facts["top_error_modules"]:
            errors.add_row(Text(visible(str(row["module"]))), str(row["errors"]))
        out.print(errors)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
