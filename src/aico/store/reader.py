"""Reads of the store: records by the one filter model (``filters.LogFilter``), counts, statistics,
a person's read-only SQL, the rejects, and facts about the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from aico.store import authorizer, migrations, readonly, stats, wholetext
from aico.store.dictionary import Texts
from aico.store.edge import Connection, mapped, scalar
from aico.store.filters import LogFilter, where_clause
from aico.store.layout import FIELDS, SOURCE, TABLE
from aico.store.ondisk import size_on_disk
from aico.store.search import SELECT_LIST, Cursor, paged


class StoreReader:
    """Reads over one connection; every libSQL error leaves as a ``StoreError`` (``edge.mapped``)."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.texts = Texts()

    def search(self, flt: LogFilter, *, ascending: bool = False, by_id: bool = False,
               page: int = 1000, start: Cursor = None) -> Iterator[dict[str, Any]]:
        """The records of ``flt``, newest first (or oldest first), fetched page by page, after ``start``."""
        return paged(self.records, flt, ascending=ascending, by_id=by_id, page=page, start=start)

    def records(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Records from a statement selecting ``search.SELECT_LIST`` (one JSON array per row)."""
        loads = orjson.loads
        with mapped():
            rows = [loads(row[0]) for row in self.conn.execute(sql, params).fetchall()]
            self.texts.decode(self.conn, rows)
        return [dict(zip(FIELDS, row, strict=True)) for row in rows]

    def get(self, record_id: int) -> dict[str, Any] | None:
        rows = self.records(f"SELECT {SELECT_LIST} FROM {SOURCE} WHERE id = ?", [record_id])
        return rows[0] if rows else None

    def count(self, flt: LogFilter | None = None) -> int:
        """How many records ``flt`` selects (its limit aside); every record without one."""
        flt = flt or LogFilter()
        if flt.grep is not None:
            return sum(1 for _ in self.search(replace(flt, limit=None)))
        where, params = where_clause(flt)
        return int(scalar(self.conn, f"SELECT count(*) FROM {SOURCE} {where}", params))

    def count_rejects(self) -> int:
        return int(scalar(self.conn, "SELECT count(*) FROM rejects"))

    def max_id(self) -> int:
        """The highest id of a stored record; 0 when there is none."""
        return int(scalar(self.conn, f"SELECT coalesce(max(id), 0) FROM {TABLE}"))

    def stats(self, flt: LogFilter, *, by: str = "level", top: int = 10) -> dict[str, Any]:
        facts = stats.collect(lambda sql, params: [tuple(r.values()) for r in self.iter_rows(sql, params)], flt,
                              by=by, top=top)
        facts["size_bytes"] = size_on_disk(self.path)
        return facts

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """A read-only statement from a person: its column names and its rows, streamed."""
        statement = readonly.check(sql)
        with mapped(kind="query"):
            authorizer.authorize(self.conn, statement, params)
            names, rows = wholetext.rows(self.conn, statement, params)
        return names, iter(rows)

    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of one SELECT as dicts, every text value whole (``wholetext``)."""
        with mapped():
            names, rows = wholetext.rows(self.conn, sql, params)
        for row in rows:
            yield dict(zip(names, row, strict=True))

    def rejects(self, *, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.iter_rows(
            "SELECT id, received_at, topic, payload, size, sha256, reason FROM rejects ORDER BY id DESC LIMIT ?",
            [limit]))

    def info(self) -> dict[str, Any]:
        """Facts about the store for ``aico db info``."""
        def one(sql: str) -> Any:
            return scalar(self.conn, sql)

        return {
            "path": str(self.path),
            "size_bytes": size_on_disk(self.path),
            "cipher": one("PRAGMA cipher"),
            "journal_mode": one("PRAGMA journal_mode"),
            "page_count": one("PRAGMA page_count"),
            "freelist_count": one("PRAGMA freelist_count"),
            "records": one("SELECT count(*) FROM logs"),
            "rejects": one("SELECT count(*) FROM rejects"),
            "oldest": one("SELECT min(timestamp) FROM logs"),
            "newest": one("SELECT max(timestamp) FROM logs"),
            "migrations": migrations.applied_readonly(self.conn),
        }
