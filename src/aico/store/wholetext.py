"""Reading text whole: libSQL's Python binding cuts a TEXT value at its first NUL byte.

The store keeps such text intact (a NUL is a valid character), but a reader would see
``"abc"`` for ``"abc\\0hidden"``: a suffix could hide from whoever reads the logs. Every
read of rows therefore goes through ``rows``: it wraps the statement so that each text value
comes back as its bytes (``CAST(... AS BLOB)``) with its type beside it, and decodes it here.
Numbers, NULLs and real blobs come back as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aico.store.connection import Connection


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rows(conn: Connection, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names and rows of one SELECT, every text value whole.

    Names are the statement's own, made unique as SQLite makes them in a subquery (a second
    ``x`` is ``x:1``). ``sql`` must not end in ``;`` (``readonly.statement`` strips it).
    """
    params = list(params)
    probe = conn.execute(f"SELECT * FROM (\n{sql}\n) LIMIT 0", params)
    names = [d[0] for d in probe.description or ()]
    if not names:
        return names, []
    cols = ", ".join(
        f"typeof(q.{c}), CASE WHEN typeof(q.{c}) = 'text' THEN CAST(q.{c} AS BLOB) ELSE q.{c} END"
        for c in map(_quoted, names))
    raw = conn.execute(f"SELECT {cols} FROM (\n{sql}\n) AS q", params).fetchall()
    return names, [_decoded(row) for row in raw]


def _decoded(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(
        value.decode("utf-8", "replace") if kind == "text" and isinstance(value, bytes) else value
        for kind, value in zip(row[::2], row[1::2], strict=True))
