"""The ETL's bookkeeping inside the analytics database: watermark, instance id, run history.

The watermark is the highest source id whose window is done. It is written in the same DuckDB
transaction as the rows of that window, so after a crash the database holds exactly the
windows up to the watermark, and the next run starts right after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class State:
    instance_id: str
    watermark: int
    records_seen: int


def read(con: duckdb.DuckDBPyConnection) -> State:
    row = con.execute("SELECT instance_id, watermark, records_seen FROM etl_state").fetchall()[0]
    return State(str(row[0]), int(row[1]), int(row[2]))


def advance(con: duckdb.DuckDBPyConnection, watermark: int, staged: int) -> None:
    """Move the watermark (call inside the chunk's transaction)."""
    con.execute("UPDATE etl_state SET watermark = ?, records_seen = records_seen + ?, updated_at = now()",
                [watermark, staged])


def record_run(con: duckdb.DuckDBPyConnection, summary: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO etl_runs VALUES (CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [summary["started_at"], summary["finished_at"], summary["mode"], summary["watermark_from"],
         summary["watermark_to"], summary["scanned"], summary["loaded"], summary["filtered"], summary["pruned"],
         json.dumps(summary["scrubbed"], sort_keys=True), summary["seconds"]],
    )
