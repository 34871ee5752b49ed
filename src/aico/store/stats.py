"""Counts over the store for ``aico logs stats``: the SQL, for the reader to run.

Hour and day buckets are UTC (the stored timestamps are).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aico.errors import QueryError
from aico.schema.levels import LEVELS
from aico.schema.timestamps import format_utc
from aico.store.filters import LogFilter, where_sql
from aico.store.layout import DICTIONARY, SOURCE, decoded, stored

# A name is grouped by its reference (one integer a row) and read once a group.
GROUPS = {
    "level": "level",
    "subsystem": decoded("subsystem"),
    "module": decoded("module"),
    "topic": decoded("topic"),
    "origin": decoded("origin"),
    "hour": "substr(timestamp, 1, 13) || 'Z'",
    "day": "substr(timestamp, 1, 10)",
}
ERROR_SQL = "level IN ('ERROR', 'CRITICAL')"
RATE_WINDOWS = {"1m": 60, "15m": 900, "1h": 3600}
Run = Callable[[str, list[Any]], list[tuple[Any, ...]]]


def _where(flt: LogFilter, *extra: str) -> tuple[str, list[Any]]:
    conds, params = where_sql(flt)
    conds.extend(extra)
    return ("WHERE " + " AND ".join(conds)) if conds else "", params


def collect(run: Run, flt: LogFilter, *, by: str = "level", top: int = 10,
            now: datetime | None = None) -> dict[str, Any]:
    """Totals, error rate, the breakdown ``by`` a field or time bucket, and the modules with most errors."""
    if by not in GROUPS:
        raise QueryError(f"--by: expected one of {', '.join(GROUPS)}, got {by!r}")
    if flt.grep is not None:
        raise QueryError("--grep: stats count in the database, where grep cannot run; use QUERY words instead")
    where, params = _where(flt)
    total, errors, oldest, newest = run(
        f"SELECT count(*), coalesce(sum({ERROR_SQL}), 0), min(timestamp), max(timestamp) FROM {SOURCE} {where}", params
    )[0]
    key = GROUPS[by]
    order = "key" if by in ("hour", "day") else "records DESC, key"
    groups = [
        {by: k, "records": n, "errors": e, "error_rate": round(e / n, 4) if n else 0.0}
        for k, n, e in run(
            f"SELECT {key} AS key, count(*) AS records, coalesce(sum({ERROR_SQL}), 0) FROM {SOURCE} {where} "
            f"GROUP BY {stored(by) if by in DICTIONARY else 'key'} ORDER BY {order}", params,
        )
    ]
    if by == "level":
        groups.sort(key=lambda g: LEVELS.get(g["level"], 0))
    where_err, params_err = _where(flt, ERROR_SQL)
    top_errors = [
        {"module": m, "errors": n}
        for m, n in run(
            f"SELECT {decoded('module')} AS module, count(*) AS n FROM {SOURCE} {where_err} GROUP BY module_ref "
            "ORDER BY n DESC, module LIMIT ?",
            [*params_err, top],
        )
    ]
    current = now or datetime.now(UTC)
    rates = {}
    for label, seconds in RATE_WINDOWS.items():
        where_rate, params_rate = _where(flt, "timestamp >= ?")
        (count,) = run(f"SELECT count(*) FROM {SOURCE} {where_rate}",
                       [*params_rate, format_utc(current - timedelta(seconds=seconds))])[0]
        rates[label] = round(count / seconds, 2)
    return {
        "records": total,
        "errors": errors,
        "error_rate": round(errors / total, 4) if total else 0.0,
        "oldest": oldest,
        "newest": newest,
        "by": by,
        "groups": groups,
        "top_error_modules": top_errors,
        "records_per_second": rates,
    }
