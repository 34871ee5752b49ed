"""Read-only SQL over the analytics database (``aico analytics query``).

The database is attached READ_ONLY, and once it is, the connection loses access to files and
to its own configuration: a query can neither change the database nor copy it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from aico.analytics.connection import open_analytics
from aico.config.settings import Settings
from aico.errors import QueryError, ReadOnlyQueryError


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_query(settings: Settings, sql: str) -> QueryResult:
    """Run ``sql`` (the last statement's rows are returned)."""
    if not sql.strip():
        raise QueryError("empty query")
    with open_analytics(settings, read_only=True) as con:
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            cursor = con.execute(sql)
            if cursor.description is None:
                return QueryResult([], [])
            table = cursor.to_arrow_table()
        except duckdb.Error as exc:
            text = _first_line(exc)
            if "read-only mode" in text or "read only" in text.lower():
                raise ReadOnlyQueryError(f"analytics queries are read-only: {text}") from None
            if isinstance(exc, duckdb.PermissionException):
                raise QueryError(f"queries cannot touch files or settings: {text}") from None
            raise QueryError(f"query failed: {text}") from None
    columns = list(table.column_names)
    data = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return QueryResult(columns, list(zip(*data, strict=True)) if data else [])
