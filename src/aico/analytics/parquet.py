"""A Parquet copy of the analytics tables that any engine reads.

    DIR/logs/day=YYYY-MM-DD/data_0.parquet      the records, hive-partitioned by day
    DIR/<rollup>.parquet                         each rollup table, whole
    DIR/_aico_export.json                        what the copy holds (database id, watermark, columns)

A copy that is current up to the run's starting watermark is brought up to date by rewriting
only the days the run touched; anything else (first export, a crashed run in between, a new
promoted column) rewrites the whole copy. The copy is scrubbed but NOT encrypted.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from aico.analytics.rollups import RECOMPUTE
from aico.config.private import private_dir
from aico.errors import StoreError

MARKER = "_aico_export.json"


@dataclass(frozen=True)
class ExportResult:
    directory: str
    full: bool
    days_written: int
    days_removed: int


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _marker(directory: Path) -> dict[str, object]:
    try:
        data = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def export(con: duckdb.DuckDBPyConnection, directory: Path, *, instance_id: str, start_watermark: int,
           watermark: int, days: set[date]) -> ExportResult:
    """Bring the copy in ``directory`` up to date with the database (see the module docstring)."""
    columns = [row[0] for row in con.execute("DESCRIBE logs").fetchall()]
    old = _marker(directory)
    full = not (old.get("instance_id") == instance_id and old.get("watermark") == start_watermark
                and old.get("columns") == columns)
    logs_dir = directory / "logs"
    try:
        private_dir(directory)
        (directory / MARKER).unlink(missing_ok=True)  # a crash from here on leaves no stale marker
        present = {d for (d,) in con.execute("SELECT DISTINCT day FROM logs").fetchall()}
        if full and logs_dir.exists():
            shutil.rmtree(logs_dir)
        wanted = present if full else days & present
        keep = {d.isoformat() for d in present - wanted}
        removed = 0
        for part in logs_dir.glob("day=*") if logs_dir.exists() else ():
            day = part.name.removeprefix("day=")
            if day not in keep:  # rewritten below, or pruned from the database
                shutil.rmtree(part)
                removed += day not in {d.isoformat() for d in wanted}
        if wanted:
            con.execute("CREATE OR REPLACE TEMP TABLE export_days AS SELECT unnest(?::DATE[]) AS day",
                        [sorted(wanted)])
            con.execute(f"COPY (SELECT * FROM logs WHERE day IN (SELECT day FROM export_days) ORDER BY id) "
                        f"TO {_sql_path(logs_dir)} (FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE)")
        for table in RECOMPUTE:
            con.execute(f"COPY {table} TO {_sql_path(directory / f'{table}.parquet')} (FORMAT parquet)")
        marker = {"instance_id": instance_id, "watermark": watermark, "columns": columns}
        (directory / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot write the Parquet copy in {directory}: {exc}") from exc
    except duckdb.Error as exc:
        raise StoreError(f"cannot write the Parquet copy in {directory}: {exc}") from exc
    return ExportResult(str(directory), full, len(wanted), removed)
