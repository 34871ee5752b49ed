"""Bulk reads by id window, for the analytics ETL: mixed into ``LogStore``.

Ids come from ``AUTOINCREMENT``: they only grow and are never reused, even after retention
deletes rows, so "everything after id N" is a stable watermark. Rows leave libSQL as JSON
array texts, the cheapest shape to move in bulk (a consumer such as DuckDB parses them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aico.errors import StoreError
from aico.schema.record import COLUMNS
from aico.store.connection import Connection

#: The fields of each row ``iter_since`` yields, in order.
EXPORT_COLUMNS = ("id", *COLUMNS)
_EXPORT_ROW = f"json_array({', '.join(EXPORT_COLUMNS)})"


@dataclass(frozen=True)
class SourceChunk:
    """Records of one id window ``(after_id, last_id]``, oldest first, that passed the filters.

    ``scanned`` counts every record of the window, ``rows`` holds those that passed, each one
    JSON array text of ``EXPORT_COLUMNS``.
    """

    after_id: int
    last_id: int
    scanned: int
    rows: list[str]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(EXPORT_COLUMNS, json.loads(r), strict=True)) for r in self.rows]


class ExportMixin:
    conn: Connection

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params).fetchall()[0][0]
        except ValueError as exc:
            raise StoreError(f"store error: {exc}") from exc

    def _column(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return [r[0] for r in self.conn.execute(sql, params).fetchall()]
        except ValueError as exc:
            raise StoreError(f"store error: {exc}") from exc

    def last_issued_id(self) -> int:
        """The highest id ever given to a record (deleted ones included); 0 for a new store."""
        issued = self._column("SELECT seq FROM sqlite_sequence WHERE name = 'logs'", ())
        return max(int(issued[0]) if issued else 0, int(self._scalar("SELECT coalesce(max(id), 0) FROM logs")))

    def iter_since(self, after_id: int, *, chunk: int = 50_000, upto: int | None = None,
                   levels: Sequence[str] | None = None, since: str | None = None) -> Iterator[SourceChunk]:
        """Records with ``after_id < id <= upto`` (default: the last issued id now), by windows of ``chunk`` ids.

        ``levels`` and ``since`` (a stored timestamp text) filter inside each window. Every window
        that holds records is yielded, even when the filters leave none, so a caller can keep a
        watermark at ``last_id``; a gap in the ids is skipped in one step.
        """
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        top = self.last_issued_id() if upto is None else upto
        where, extra = "", list[Any]()
        if levels is not None:  # the unary + keeps SQLite on the id range, off the level/time indexes
            where += f" AND +level IN ({', '.join('?' for _ in levels)})"
            extra.extend(levels)
        if since is not None:
            where += " AND +timestamp >= ?"
            extra.append(since)
        low = after_id
        while low < top:
            high = min(low + chunk, top)
            window = [low, high]
            rows = self._column(f"SELECT {_EXPORT_ROW} FROM logs WHERE id > ? AND id <= ?{where} ORDER BY id",
                                [*window, *extra])
            scanned = len(rows) if not where else int(
                self._scalar("SELECT count(*) FROM logs WHERE id > ? AND id <= ?", window))
            if scanned:
                yield SourceChunk(low, high, scanned, rows)
                low = high
                continue
            following = self._scalar("SELECT min(id) FROM logs WHERE id > ?", [high])
            if following is None or following > top:
                return
            low = following - 1
