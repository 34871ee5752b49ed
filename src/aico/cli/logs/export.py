"""``aico logs export FILE``: matching records to JSON Lines, CSV or Parquet, streamed.

Records are read a page at a time (``PAGE`` rows) and written as they come, so an export of any
size takes the memory of one page. The file is written under a temporary name and moved into
place at the end (an interrupted export leaves no half file behind), readable by its owner only:
unlike the store, an export is not encrypted. A progress bar shows on a
terminal only.

Every record is scrubbed on its way out with all the privacy rules (``core.privacy``, as the
analytics copy is), whatever the ingest policy stored; ``--raw`` exports what the store holds.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aico.cli.common import open_reader, rich_console, settings
from aico.cli.logs.options import filter_options
from aico.cli.output import FIELDS, Output, Renderer
from aico.errors import AicoError, QueryError
from aico.privacy import Scrubber
from aico.store.filters import LogFilter

PAGE = 5000
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class Format(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


def _format_for(path: str, given: Format | None) -> Format:
    if given is not None:
        return given
    if path == "-":
        return Format.jsonl
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise QueryError(f"--format: cannot tell the format from {Path(path).name!r}; "
                         "give --format jsonl, csv or parquet (or name the file .jsonl, .csv, .parquet)")
    return Format(SUFFIXES[suffix])


def _parquet_schema() -> Any:
    import pyarrow as pa

    ints = {"id", "line", "seq"}
    return pa.schema([
        (name, pa.int64() if name in ints else pa.timestamp("us", tz="UTC") if name == "timestamp" else pa.string())
        for name in FIELDS
    ])


def _private(path: Path, *, binary: bool) -> IO[Any]:
    """``path`` opened for writing, readable by its owner only: an export is the logs in plain text."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")


def _write_parquet(rows: Iterator[dict[str, Any]], path: Path, tick: Any) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    stamps = schema.field("timestamp").type
    count = 0
    with _private(path, binary=True) as fh, pq.ParquetWriter(fh, schema, compression="zstd") as writer:
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == PAGE:
                count += _write_chunk(writer, chunk, schema, stamps, pa)
                tick(len(chunk))
                chunk = []
        if chunk or count == 0:
            count += _write_chunk(writer, chunk, schema, stamps, pa)
            tick(len(chunk))
    return count


def _write_chunk(writer: Any, chunk: list[dict[str, Any]], schema: Any, stamps: Any, pa: Any) -> int:
    columns = [
        pa.array([r["timestamp"] for r in chunk], pa.string()).cast(stamps) if f.name == "timestamp"
        else pa.array([r[f.name] for r in chunk], f.type)
        for f in schema
    ]
    writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return len(chunk)


def _write_text(rows: Iterator[dict[str, Any]], stream: IO[str], fmt: Format, tick: Any) -> int:
    from rich.console import Console

    renderer = Renderer(Output(fmt.value), Console(file=stream, no_color=True, force_terminal=False))
    for row in rows:
        renderer.row(row)
        if renderer.count % PAGE == 0:
            tick(PAGE)
    renderer.close()
    tick(renderer.count % PAGE)
    return renderer.count


@filter_options()
def export(
    destination: str = typer.Argument(..., metavar="FILE", help="Where to write ('-' for standard output)."),
    fmt: Format = typer.Option(None, "--format", "-F", show_default=False,
                               help="jsonl, csv or parquet (default: from FILE's extension)."),
    limit: int = typer.Option(None, "--limit", "-n", min=1, help="At most this many records (the oldest)."),
    raw: bool = typer.Option(False, "--raw", help="Export what the store holds, without the privacy scrubbing "
                             "(e-mails, phones, addresses, ids, secrets masked by default)."),
    *, flt: LogFilter, utc: bool,
) -> None:
    """Export matching records, oldest first, to JSON Lines, CSV or Parquet (private values masked unless --raw)."""
    chosen = _format_for(destination, fmt)
    if destination == "-" and chosen is Format.parquet:
        raise QueryError("--format: parquet needs a file, not standard output")
    flt = replace(flt, limit=limit)
    if destination != "-":
        folder = Path(destination).parent
        if not folder.is_dir():
            raise AicoError(f"cannot export to {destination}: no folder {folder} (make it first)")
        if Path(destination).is_dir():
            raise AicoError(f"cannot export to {destination}: it is a folder; name a file in it")
    err = rich_console(stderr=True)
    show_progress = sys.stderr.isatty() and destination != "-"
    with open_reader() as store:
        total = min(store.count(flt), limit or sys.maxsize) if show_progress and flt.grep is None else None
        rows = store.search(flt, ascending=True, page=PAGE)
        if not raw:
            scrubber = Scrubber.for_output(settings())
            rows = (scrubber.scrub_record(row) for row in rows)
        progress = Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=err, transient=True, disable=not show_progress)
        with progress:
            task = progress.add_task("export", total=total)

            def tick(n: int) -> None:
                progress.advance(task, n)

            if destination == "-":
                count = _write_text(rows, sys.stdout, chosen, tick)
                return
            target = Path(destination)
            partial = target.with_name(f".{target.name}.part")
            try:
                if chosen is Format.parquet:
                    count = _write_parquet(rows, partial, tick)
                else:
                    with _private(partial, binary=False) as fh:
                        count = _write_text(rows, fh, chosen, tick)
                os.replace(partial, target)
            except OSError as exc:  # a full or read-only disk, no permission: one line, nothing half-written
                raise AicoError(f"cannot export to {destination}: {exc.strerror or exc}") from exc
            finally:
                with contextlib.suppress(FileNotFoundError):
                    partial.unlink()
    err.print(f"exported {count} records to {target} ({chosen.value})")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
