"""Writes of records and rejected payloads: what the collector's writer process calls.

A batch is one statement in one transaction: the rows travel as one JSON text (the fastest
path measured in FACTS.md), and a record already stored (same ``producer_id`` and ``seq``) is
skipped by the unique index, so a batch sent twice is stored once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from aico.errors import StoreError
from aico.schema.record import COLUMNS, Record, Row, dumps, to_row
from aico.schema.timestamps import now_utc
from aico.store import layout
from aico.store.dictionary import Dictionary
from aico.store.edge import Connection, changes, transaction
from aico.store.filters import LogFilter
from aico.store.reader import StoreReader

# MATERIALIZED matters: without it json_each makes its ``value`` text anew for each of the 19
# ``->>`` reads of a row: 7.8 us per row against 2.9 us, measured into a table without indexes.
# The names and ids of a row are already references here (``dictionary.Dictionary``).
INSERT_BATCH_SQL = layout.insert_sql({c: f"r->>{i}" for i, c in enumerate(COLUMNS)}, "batch", references=True,
                                     with_="WITH batch(r) AS MATERIALIZED (SELECT value FROM json_each(?)) ")
MAX_REASON_CHARS = 2048


def _parsed(text: bytes | str) -> list[list[Any]]:
    """The rows of an ``encode_rows`` text, each a list of ``COLUMNS`` values."""
    try:
        rows = orjson.loads(text)
    except orjson.JSONDecodeError:  # a lone surrogate, which record.dumps writes and orjson refuses
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise StoreError(f"cannot store a batch of records: not a JSON array of rows ({exc})") from exc
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == len(COLUMNS) for r in rows):
        raise StoreError(f"cannot store a batch of records: not a JSON array of rows of {len(COLUMNS)} values")
    return rows


def encode_rows(rows: Sequence[Row] | Sequence[list[Any]]) -> bytes:
    """Rows (values in ``COLUMNS`` order) as the UTF-8 JSON text ``StoreWriter.insert_batch`` takes."""
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


@dataclass(frozen=True)
class InsertResult:
    stored: int
    duplicates: int


class StoreWriter:
    """Inserts and deletes on the ``logs`` and ``rejects`` tables, each in short transactions."""

    def __init__(self, conn: Connection, reader: StoreReader) -> None:
        self.conn = conn
        self.reader = reader
        self.dictionary = Dictionary()

    def insert_batch(self, rows: Sequence[Record] | bytes | str, *, count: int | None = None) -> InsertResult:
        """Store records, or rows already encoded (``encode_rows``), in one transaction.

        A text is parsed here: its names and ids become references (``dictionary``) before SQL
        sees it. ``count`` (how many rows the text holds) is taken for callers that know it, and
        no longer needed.
        """
        table = _parsed(rows) if isinstance(rows, bytes | str) else [list(to_row(r)) for r in rows]
        if not table:
            return InsertResult(0, 0)
        try:
            with transaction(self.conn, "cannot store a batch of records") as c:
                self.dictionary.encode(c, table)
                c.execute(INSERT_BATCH_SQL, (encode_rows(table).decode(),))
                stored = changes(c)
        except BaseException:
            self.dictionary.forget()  # references it learnt in the rolled-back transaction are gone
            raise
        return InsertResult(stored, len(table) - stored)

    def insert_rejects(self, rejects: Sequence[Reject], *, max_rows: int | None = None) -> int:
        """Keep bad payloads (a prefix, the size, the SHA-256) with the reason; past ``max_rows``
        the oldest rejects go in the same transaction. Returns how many were pruned."""
        if not rejects:
            return 0
        now = now_utc()
        pruned = 0
        with transaction(self.conn, f"cannot store {len(rejects)} rejected payloads") as c:
            c.executemany(
                "INSERT INTO rejects(received_at, topic, payload, reason, size, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                [(now, r.topic.decode("utf-8", "replace") if r.topic else None, r.prefix, r.reason, r.size,
                  r.sha256) for r in rejects],
            )
            if max_rows is not None:
                c.execute("DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?", [max_rows])
                pruned = changes(c)
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
        sql = f"DELETE FROM rejects WHERE id IN (SELECT id FROM rejects WHERE {' OR '.join(conds)} ORDER BY id LIMIT ?)"
        removed = 0
        while True:
            with transaction(self.conn, "cannot prune rejects") as c:
                c.execute(sql, [*params, chunk])
                n = changes(c)
            removed += n
            if n < chunk:
                return removed

    def delete(self, flt: LogFilter, *, chunk: int = 2000) -> int:
        """Remove the records of ``flt`` in short transactions of ``chunk`` rows; returns how many."""
        removed, after = 0, flt.after_id
        while True:
            page = list(self.reader.search(replace(flt, grep=None, after_id=after, limit=chunk), ascending=True,
                                           by_id=True, page=chunk))
            if not page:
                return removed
            after = page[-1]["id"]
            ids = [r["id"] for r in page if flt.regex is None or flt.regex.search(r.get("message") or "")]
            if ids:
                with transaction(self.conn, f"cannot remove {len(ids)} records") as c:
                    c.execute(f"DELETE FROM {layout.TABLE} WHERE id IN (SELECT value FROM json_each(?))",
                              (json.dumps(ids),))
                    removed += changes(c)
