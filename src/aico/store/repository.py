"""The repository: every read and write of the log store goes through here.

``LogStore`` owns one connection. The collector holds the single writing instance; readers
(CLI, dashboard, ETL) open their own, read-only ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, QueryError, ReadOnlyQueryError, StoreError
from aico.schema.record import COLUMNS, Record, Row, dumps, to_row
from aico.schema.timestamps import now_utc
from aico.store import authorizer, migrations, readonly, stats, wholetext
from aico.store.connection import Connection, open_database
from aico.store.export import ExportMixin
from aico.store.filters import LogFilter, where_clause
from aico.store.keys import load_key
from aico.store.maintenance import MaintenanceMixin
from aico.store.search import FIELDS, SELECT_LIST, Cursor, paged

_INSERT_COLUMNS = ", ".join(COLUMNS)
_INSERT_SELECT = ", ".join(f"r->>{i}" for i in range(len(COLUMNS)))
# One statement per batch: the rows travel as one JSON text (the fastest path measured in FACTS.md).
# MATERIALIZED matters: without it json_each makes its ``value`` text anew for each of the 19
# ``->>`` reads of a row: 7.8 us per row against 2.9 us, measured into a table without indexes.
INSERT_BATCH_SQL = (
    f"WITH batch(r) AS MATERIALIZED (SELECT value FROM json_each(?)) "
    f"INSERT INTO logs ({_INSERT_COLUMNS}) SELECT {_INSERT_SELECT} FROM batch WHERE true "
    "ON CONFLICT DO NOTHING"
)
INSERT_ONE_SQL = (
    f"INSERT INTO logs ({_INSERT_COLUMNS}) VALUES ({', '.join('?' for _ in COLUMNS)}) ON CONFLICT DO NOTHING"
)
SELECT_COLUMNS = "id, " + _INSERT_COLUMNS


def rows_json(records: Sequence[Record]) -> bytes:
    """Records as the JSON text ``insert_rows_json`` takes: one array per record, ``COLUMNS`` order."""
    return encode_rows([to_row(r) for r in records])


def encode_rows(rows: Sequence[Row]) -> bytes:
    """Rows (values in ``COLUMNS`` order) as the UTF-8 JSON text ``insert_rows_json`` takes."""
    try:
        return orjson.dumps(rows)
    except TypeError:  # orjson.JSONEncodeError included: what it refuses, record.dumps takes
        return dumps(rows).encode()


@dataclass(frozen=True)
class Reject:
    """What the store keeps of a rejected payload: its first bytes, its size and SHA-256, and why."""

    topic: bytes | None
    prefix: bytes
    reason: str
    size: int
    sha256: str

    @classmethod
    def of(cls, topic: bytes | None, payload: bytes, reason: str, *, keep_bytes: int) -> Reject:
        return cls(topic, payload[:keep_bytes], reason[:MAX_REASON_CHARS], len(payload),
                   hashlib.sha256(payload).hexdigest())


MAX_REASON_CHARS = 2048


@dataclass(frozen=True)
class InsertResult:
    stored: int
    duplicates: int


class LogStore(MaintenanceMixin, ExportMixin):
    """Reads and writes of the ``logs`` and ``rejects`` tables over one connection.

    Day-by-day maintenance for retention (days present, rows of a day, chunked deletes,
    restore, incremental vacuum) comes from ``MaintenanceMixin`` in ``maintenance.py``; bulk
    reads by id window for the analytics ETL from ``ExportMixin`` in ``export.py``.
    """

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, *, writer: bool = False) -> LogStore:
        """The store of ``settings``. A writer creates it (and its key) on first start."""
        path = settings.database_path
        is_new = not path.exists()
        if is_new and not writer:
            raise StoreError(f"no log store at {path}; start the backend once (aico backend start) to create it")
        key = load_key(settings, "db", create=writer and is_new)

        def connect(key: str) -> Connection:
            return open_database(path, key, create=writer, synchronous=settings.core.logging.consumer.synchronous,
                                 read_only=not writer)

        try:
            conn = connect(key)
        except EncryptionKeyError:  # a key rotation cut short: the new key may be the one (keyset/rotation.py)
            from aico.keyset.rotation import settle_db

            settled = settle_db(settings)
            if settled is None or settled == key:
                raise
            conn = connect(settled)
        if writer:
            migrations.migrate(conn)
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params)
        except ValueError as exc:
            raise StoreError(f"store error: {exc}") from exc

    # -- writes (the collector) ------------------------------------------------------------
    def insert_batch(self, records: Sequence[Record]) -> InsertResult:
        """Store ``records`` in one transaction; duplicates of (producer_id, seq) are skipped."""
        if not records:
            return InsertResult(0, 0)
        return self.insert_rows_json(rows_json(records), count=len(records))

    def insert_rows_json(self, rows: str | bytes, *, single_row: bool = False,
                         count: int | None = None) -> InsertResult:
        """Store rows given as one JSON array of arrays in ``COLUMNS`` order (see ``encode_rows``).

        ``count``, when the caller knows it, is how many rows the text holds (counting them
        here means parsing the whole text once more). ``single_row`` is the spec's original
        design, kept as the benchmark baseline: one INSERT and one COMMIT per record.
        """
        if single_row:
            total = InsertResult(0, 0)
            for row in json.loads(rows):
                one = self.insert_one(dict(zip(COLUMNS, row, strict=True)))
                total = InsertResult(total.stored + one.stored, total.duplicates + one.duplicates)
            return total
        text = rows.decode() if isinstance(rows, bytes) else rows
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(INSERT_BATCH_SQL, (text,))
            # changes() counts this statement's own rows only, not what triggers (the FTS index) add
            if count is None:
                stored, count = self.conn.execute("SELECT changes(), json_array_length(?)", (text,)).fetchall()[0]
            else:
                stored = self.conn.execute("SELECT changes()").fetchall()[0][0]
            self.conn.execute("COMMIT")
        except ValueError as exc:
            self._rollback()
            raise StoreError(f"cannot store a batch of records: {exc}") from exc
        return InsertResult(stored, count - stored)

    def insert_one(self, record: Record) -> InsertResult:
        """The spec's original design (one INSERT, one COMMIT): kept as the benchmark baseline."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(INSERT_ONE_SQL, [record[c] for c in COLUMNS])
            changed = self.conn.execute("SELECT changes()").fetchall()[0][0]
            self.conn.execute("COMMIT")
        except ValueError as exc:
            self._rollback()
            raise StoreError(f"cannot store a record: {exc}") from exc
        return InsertResult(changed, 1 - changed)

    def insert_rejects(self, rejects: Sequence[Reject], *, max_rows: int | None = None) -> int:
        """Keep bad payloads (a prefix, the size, the SHA-256) with the reason; past ``max_rows``
        the oldest rejects go in the same transaction. Returns how many were pruned."""
        if not rejects:
            return 0
        now = now_utc()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO rejects(received_at, topic, payload, reason, size, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                [(now, r.topic.decode("utf-8", "replace") if r.topic else None, r.prefix, r.reason, r.size,
                  r.sha256) for r in rejects],
            )
            pruned = 0
            if max_rows is not None:
                self.conn.execute("DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?", [max_rows])
                pruned = int(self.conn.execute("SELECT changes()").fetchall()[0][0])
            self.conn.execute("COMMIT")
        except ValueError as exc:
            self._rollback()
            raise StoreError(f"cannot store {len(rejects)} rejected payloads: {exc}") from exc
        return pruned

    def prune_rejects(self, *, before: str | None = None, keep: int | None = None, chunk: int = 2000) -> int:
        """Delete rejects received before ``before`` and all but the newest ``keep``, oldest first,
        in short transactions of ``chunk`` rows; returns how many went."""
        conds, params = [], list[Any]()
        if before is not None:
            conds.append("received_at < ?")
            params.append(before)
        if keep is not None:
            conds.append("id <= (SELECT coalesce(max(id), 0) FROM rejects) - ?")
            params.append(keep)
        if not conds:
            return 0
        removed = 0
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute(f"DELETE FROM rejects WHERE id IN (SELECT id FROM rejects WHERE "
                                  f"{' OR '.join(conds)} ORDER BY id LIMIT ?)", [*params, chunk])
                n = int(self.conn.execute("SELECT changes()").fetchall()[0][0])
                self.conn.execute("COMMIT")
            except ValueError as exc:
                self._rollback()
                raise StoreError(f"cannot prune rejects: {exc}") from exc
            removed += n
            if n < chunk:
                return removed

    def rejects_bytes(self) -> int:
        """About what the rejects take in the store (their payload prefixes and reasons)."""
        return int(self._execute("SELECT coalesce(sum(length(payload) + length(reason) + 64), 0) "
                                 "FROM rejects").fetchall()[0][0])

    def _rollback(self) -> None:
        try:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        except ValueError:
            pass

    # -- reads -----------------------------------------------------------------------------
    def count(self) -> int:
        return int(self._execute("SELECT count(*) FROM logs").fetchall()[0][0])

    def count_rejects(self) -> int:
        return int(self._execute("SELECT count(*) FROM rejects").fetchall()[0][0])

    def search(self, flt: LogFilter, *, ascending: bool = False, by_id: bool = False,
               page: int = 1000, start: Cursor = None) -> Iterator[dict[str, Any]]:
        """The records of ``flt``, newest first (or oldest first), fetched page by page, after ``start``."""
        return paged(self._records, flt, ascending=ascending, by_id=by_id, page=page, start=start)

    def _records(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Records from a statement selecting ``search.SELECT_LIST`` (one JSON array per row)."""
        loads = orjson.loads
        return [dict(zip(FIELDS, loads(row[0]), strict=True)) for row in self._execute(sql, params).fetchall()]

    def get(self, record_id: int) -> dict[str, Any] | None:
        rows = self._records(f"SELECT {SELECT_LIST} FROM logs WHERE id = ?", [record_id])
        return rows[0] if rows else None

    def max_id(self) -> int:
        return int(self._execute("SELECT coalesce(max(id), 0) FROM logs").fetchall()[0][0])

    def count_matching(self, flt: LogFilter) -> int:
        """How many records ``flt`` selects (its limit aside)."""
        if flt.grep is not None:
            return sum(1 for _ in self.search(replace(flt, limit=None)))
        where, params = where_clause(flt)
        return int(self._execute(f"SELECT count(*) FROM logs {where}", params).fetchall()[0][0])

    def stats(self, flt: LogFilter, *, by: str = "level", top: int = 10) -> dict[str, Any]:
        facts = stats.collect(lambda sql, params: [tuple(r.values()) for r in self.iter_rows(sql, params)], flt,
                              by=by, top=top)
        facts["size_bytes"] = self.size_on_disk()
        return facts

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """A read-only statement from a person: its column names and its rows, streamed."""
        statement = readonly.check(sql)
        try:
            authorizer.authorize(self.conn, statement, params)
            names, rows = wholetext.rows(self.conn, statement, params)
        except ValueError as exc:
            if "readonly" in str(exc) or "not authorized" in str(exc):
                raise ReadOnlyQueryError(f"refused: the statement would write ({exc}); only reads are allowed") from exc
            raise QueryError(f"SQL: {exc}") from exc
        return names, iter(rows)

    # -- deletes -----------------------------------------------------------------------------
    def delete(self, flt: LogFilter, *, chunk: int = 2000) -> int:
        """Remove the records of ``flt`` in short transactions of ``chunk`` rows; returns how many."""
        removed, after = 0, flt.after_id
        while True:
            page = list(self.search(replace(flt, grep=None, after_id=after, limit=chunk), ascending=True,
                                    by_id=True, page=chunk))
            if not page:
                return removed
            after = page[-1]["id"]
            ids = [r["id"] for r in page if flt.regex is None or flt.regex.search(r.get("message") or "")]
            if ids:
                removed += self._delete_ids(ids)

    def _delete_ids(self, ids: Sequence[int]) -> int:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM logs WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
            changed = self.conn.execute("SELECT changes()").fetchall()[0][0]
            self.conn.execute("COMMIT")
        except ValueError as exc:
            self._rollback()
            raise StoreError(f"cannot remove {len(ids)} records: {exc}") from exc
        return int(changed)

    def recent(self, *, limit: int = 50, levels: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` records (of ``levels`` if given), returned oldest first."""
        where, params = "", list[Any]()
        if levels:
            where = f"WHERE level IN ({', '.join('?' for _ in levels)})"
            params.extend(levels)
        sql = f"SELECT {SELECT_LIST} FROM logs {where} ORDER BY timestamp DESC, id DESC LIMIT ?"
        rows = self._records(sql, [*params, limit])
        rows.reverse()
        return rows

    def rejects(self, *, limit: int = 50) -> list[dict[str, Any]]:
        return self._rows(
            "SELECT id, received_at, topic, payload, size, sha256, reason FROM rejects ORDER BY id DESC LIMIT ?",
            [limit],
        )

    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of one SELECT as dicts, every text value whole (``wholetext``)."""
        try:
            names, rows = wholetext.rows(self.conn, sql, params)
        except ValueError as exc:
            raise StoreError(f"store error: {exc}") from exc
        for row in rows:
            yield dict(zip(names, row, strict=True))

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.iter_rows(sql, params))

    def info(self) -> dict[str, Any]:
        """Facts about the store for ``aico db info``."""
        def one(sql: str) -> Any:
            return self._execute(sql).fetchall()[0][0]

        size = sum(os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return {
            "path": str(self.path),
            "size_bytes": size,
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
