"""Bulk reads by id window, for the analytics ETL.

Ids come from ``AUTOINCREMENT``: they only grow and are never reused, even after retention
deletes rows, so "everything after id N" is a stable watermark. Rows leave libSQL as JSON
array texts, the cheapest shape to move in bulk (a consumer such as DuckDB parses them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aico.errors import QueryError
from aico.store.edge import Connection, column, scalar
from aico.store.filters import LogFilter, where_sql
from aico.store.layout import FIELDS, SOURCE, TABLE, json_row

#: The fields of each row ``iter_since`` yields, in order.
EXPORT_COLUMNS = FIELDS
_EXPORT_ROW = json_row("logs")


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


class IdWindowExport:
    """Records by id window, filtered by a ``LogFilter``, as JSON array texts."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def last_issued_id(self) -> int:
        """The highest id ever given to a record (deleted ones included); 0 for a new store."""
        return int(scalar(self.conn, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
                                     f"(SELECT coalesce(max(id), 0) FROM {TABLE}))", [TABLE]))

    def iter_since(self, after_id: int, flt: LogFilter | None = None, *, chunk: int = 50_000,
                   upto: int | None = None) -> Iterator[SourceChunk]:
        """Records with ``after_id < id <= upto`` (default: the last issued id now), by windows of ``chunk`` ids.

        ``flt`` filters inside each window (``grep`` aside: it cannot run in SQL). Every window
        that holds records is yielded, even when the filter leaves none, so a caller can keep a
        watermark at ``last_id``; a gap in the ids is skipped in one step.
        """
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        flt = flt or LogFilter()
        if flt.grep is not None:
            raise QueryError("grep cannot filter an id window export; use a full-text query instead")
        top = self.last_issued_id() if upto is None else upto
        # unindexed: SQLite stays on the id range, off the level/time indexes
        conds, extra = where_sql(flt, unindexed=True)
        where = "".join(f" AND {c}" for c in conds)
        low = after_id
        while low < top:
            high = min(low + chunk, top)
            window = [low, high]
            rows = column(self.conn, f"SELECT {_EXPORT_ROW} FROM {SOURCE} WHERE id > ? AND id <= ?{where} ORDER BY id",
                          [*window, *extra])
            scanned = len(rows) if not where else int(
                scalar(self.conn, f"SELECT count(*) FROM {TABLE} WHERE id > ? AND id <= ?", window))
            if scanned:
                yield SourceChunk(low, high, scanned, rows)
                low = high
                continue
            following = scalar(self.conn, f"SELECT min(id) FROM {TABLE} WHERE id > ?", [high])
            if following is None or following > top:
                return
            low = following - 1
