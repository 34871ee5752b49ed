"""Rollup tables, kept current by recomputing whole days.

Each chunk records the days it touched in ``etl_dirty_days`` (in its own transaction); the
end of a run recomputes those days from ``logs`` and clears them, in one transaction. A day is
always rebuilt from scratch, so a rerun or a resumed crash can never count a record twice.
"""

from __future__ import annotations

import duckdb

from aico.analytics.connection import transaction

_DIRTY = "(SELECT day FROM etl_dirty_days)"

RECOMPUTE: dict[str, str] = {
    "errors_by_module_day": f"""
        SELECT day, subsystem, module, count(*) AS records,
            count(*) FILTER (WHERE level = 'WARNING') AS warnings,
            count(*) FILTER (WHERE level = 'ERROR') AS errors,
            count(*) FILTER (WHERE level = 'CRITICAL') AS criticals
        FROM logs WHERE day IN {_DIRTY} GROUP BY day, subsystem, module
    """,
    "records_by_level_hour": f"""
        SELECT day, date_trunc('hour', ts) AS hour, level, count(*) AS records
        FROM logs WHERE day IN {_DIRTY} GROUP BY day, hour, level
    """,
    "error_types_by_day": f"""
        SELECT day, error_type, stack_hash, count(*) AS occurrences, min(ts) AS first_seen, max(ts) AS last_seen,
            arg_min(module, ts) AS module, arg_min(error_message, ts) AS sample_message
        FROM logs WHERE day IN {_DIRTY} AND stack_hash IS NOT NULL GROUP BY day, error_type, stack_hash
    """,
}


def mark_dirty(con: duckdb.DuckDBPyConnection, after_id: int, last_id: int) -> None:
    """Remember the days of the rows just loaded from ``(after_id, last_id]`` (in the chunk's transaction)."""
    con.execute("INSERT INTO etl_dirty_days SELECT DISTINCT day FROM logs WHERE id > ? AND id <= ? "
                "ON CONFLICT DO NOTHING", [after_id, last_id])


def recompute(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild every rollup for the dirty days, then clear them; returns the number of days."""
    with transaction(con):
        days = int(con.execute("SELECT count(*) FROM etl_dirty_days").fetchall()[0][0])
        if days:
            for table, select in RECOMPUTE.items():
                con.execute(f"DELETE FROM {table} WHERE day IN {_DIRTY}")
                con.execute(f"INSERT INTO {table} BY NAME {select}")
            con.execute("DELETE FROM etl_dirty_days")
    return days


def prune(con: duckdb.DuckDBPyConnection, cutoff: str) -> int:
    """Delete records older than ``cutoff`` (UTC text) and the rollups of the days before it.

    The cutoff's own day is marked dirty, so its rollups are recomputed without the pruned
    records. Call inside a transaction. Returns the number of records deleted.
    """
    pruned = int(con.execute("SELECT count(*) FROM logs WHERE ts < CAST(? AS TIMESTAMPTZ)", [cutoff]).fetchall()[0][0])
    if pruned:
        con.execute("DELETE FROM logs WHERE ts < CAST(? AS TIMESTAMPTZ)", [cutoff])
        for table in RECOMPUTE:
            con.execute(f"DELETE FROM {table} WHERE day < CAST(left(?, 10) AS DATE)", [cutoff])
        con.execute("INSERT INTO etl_dirty_days VALUES (CAST(left(?, 10) AS DATE)) ON CONFLICT DO NOTHING", [cutoff])
    return pruned
