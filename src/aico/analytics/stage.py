"""A source window parsed and pre-checked (in the reader process), ready for ``scrub.apply``.

The window's rows arrive as JSON array texts (``aico.store.export.EXPORT_COLUMNS``). One DuckDB
query parses them into columns (text as stored; ``id``, ``line`` and ``seq`` integers) and runs
the scrubber's pre-checks on the way (``scrub.precheck_select``), in C++: what leaves is an
Arrow table of ``EXPORT_COLUMNS`` plus the flag columns ``scrub.FLAGS``.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from aico.analytics.scrub import Prechecks, precheck_select
from aico.store.export import EXPORT_COLUMNS

_INT_COLUMNS = {"id": "BIGINT", "line": "BIGINT", "seq": "BIGINT"}
_FIELDS = ", ".join(
    f"TRY_CAST(r[{i + 1}] AS {_INT_COLUMNS[c]}) AS {c}" if c in _INT_COLUMNS else f"r[{i + 1}] AS {c}"
    for i, c in enumerate(EXPORT_COLUMNS)
)


def connect(memory_limit: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB on one thread (the load has the other core).

    No temp directory: text not yet scrubbed never goes to disk (a window that does not fit in
    ``memory_limit`` fails instead of spilling).
    """
    return duckdb.connect(":memory:", config={"threads": 1, "memory_limit": memory_limit, "temp_directory": ""})


def stage(con: duckdb.DuckDBPyConnection, rows: list[str], checks: Prechecks) -> pa.Table:
    """The rows (JSON array texts) as an Arrow table, with the pre-check flags."""
    con.register("chunk_source", pa.table({"j": pa.array(rows, pa.large_string())}))
    try:
        parsed = f"(SELECT {_FIELDS} FROM (SELECT from_json(j, '[\"VARCHAR\"]') AS r FROM chunk_source))"
        return con.execute(precheck_select(checks, parsed)).to_arrow_table()
    finally:
        con.unregister("chunk_source")
