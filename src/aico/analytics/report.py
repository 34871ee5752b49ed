"""The data of ``aico analytics report``: error trends per module, new error types, last run.

Everything comes from the rollup tables, over the last ``days`` days (the period) compared with
the ``days`` before (the previous period), counted in whole UTC days ending today.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from aico.analytics.connection import open_analytics
from aico.config.settings import Settings


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    table = con.execute(sql, params).to_arrow_table()
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def build_report(settings: Settings, *, days: int = 7, today: date | None = None, top: int = 10) -> dict[str, Any]:
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    previous = start - timedelta(days=days)
    with open_analytics(settings, read_only=True) as con:
        con.execute("SET enable_external_access = false")
        totals = _rows(con, """
            SELECT CASE WHEN day >= $start THEN 'period' ELSE 'previous' END AS span,
                   sum(records)::BIGINT AS records, sum(warnings)::BIGINT AS warnings,
                   sum(errors)::BIGINT AS errors, sum(criticals)::BIGINT AS criticals
            FROM errors_by_module_day WHERE day >= $previous AND day <= $today GROUP BY span
        """, {"start": start, "previous": previous, "today": today})
        modules = _rows(con, """
            SELECT subsystem, module,
                   (sum(errors + criticals) FILTER (WHERE day >= $start))::BIGINT AS errors,
                   coalesce(sum(errors + criticals) FILTER (WHERE day < $start), 0)::BIGINT AS previous_errors,
                   (sum(records) FILTER (WHERE day >= $start))::BIGINT AS records,
                   list(errors + criticals ORDER BY day) FILTER (WHERE day >= $start) AS daily_days,
                   list(day ORDER BY day) FILTER (WHERE day >= $start) AS days
            FROM errors_by_module_day WHERE day >= $previous AND day <= $today
            GROUP BY subsystem, module HAVING sum(errors + criticals) FILTER (WHERE day >= $start) > 0
            ORDER BY errors DESC, subsystem, module LIMIT $top
        """, {"start": start, "previous": previous, "today": today, "top": top})
        new_types = _rows(con, """
            SELECT error_type, stack_hash, sum(occurrences)::BIGINT AS occurrences, min(first_seen) AS first_seen,
                   max(last_seen) AS last_seen, arg_min(module, first_seen) AS module,
                   arg_min(sample_message, first_seen) AS sample_message
            FROM error_types_by_day GROUP BY error_type, stack_hash
            HAVING min(day) >= $start AND min(day) <= $today
            ORDER BY occurrences DESC, first_seen LIMIT $top
        """, {"start": start, "today": today, "top": top})
        last_run = _rows(con, "SELECT * FROM etl_runs ORDER BY finished_at DESC LIMIT 1", [])
        watermark = con.execute("SELECT watermark FROM etl_state").fetchall()[0][0]
    for row in modules:
        by_day = dict(zip(row.pop("days") or [], row.pop("daily_days") or [], strict=True))
        row["daily"] = [by_day.get(start + timedelta(days=i), 0) for i in range(days)]
    for row in last_run:
        row["scrubbed"] = json.loads(row["scrubbed"]) if row.get("scrubbed") else {}
    spans = {r.pop("span"): r for r in totals}
    empty = {"records": 0, "warnings": 0, "errors": 0, "criticals": 0}
    return {
        "period": {"from": start.isoformat(), "to": today.isoformat(), "days": days},
        "totals": {"period": spans.get("period", empty), "previous": spans.get("previous", empty)},
        "modules": modules,
        "new_error_types": new_types,
        "last_run": last_run[0] if last_run else None,
        "watermark": watermark,
    }
