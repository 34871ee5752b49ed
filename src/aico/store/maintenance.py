"""Day-by-day maintenance of the ``logs`` table, for retention: mixed into ``LogStore``.

Days are UTC calendar days: a record's day is the first ten characters of its timestamp,
and the day's rows are the ``timestamp`` index range ``[day, next day)``. Every write here
is a short transaction (a chunk of rows), so the collector's writer is never held up long.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from aico.errors import StoreError
from aico.schema.record import COLUMNS
from aico.store.connection import Connection

T = TypeVar("T")
ARCHIVE_COLUMNS = ("id", *COLUMNS)
_JSON_ROW = f"json_array({', '.join(ARCHIVE_COLUMNS)})"
PAGE_ROWS = 2000


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def size_on_disk(path: Path) -> int:
    """Bytes of a database file, its WAL and shared-memory index, as the disk holds them."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(f"{path}{suffix}")
        except FileNotFoundError:
            pass
    return total


class MaintenanceMixin:
    conn: Connection
    path: Path

    def _tx(self, work: Callable[[Connection], T], what: str) -> T:
        """``work`` inside BEGIN IMMEDIATE ... COMMIT, libSQL errors translated."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            out = work(self.conn)
            self.conn.execute("COMMIT")
            return out
        except ValueError as exc:
            try:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            except ValueError:
                pass
            raise StoreError(f"{what}: {exc}") from exc

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params).fetchall()[0][0]
        except ValueError as exc:
            raise StoreError(f"store error: {exc}") from exc

    # -- reads -------------------------------------------------------------------------------
    def days_present(self, before: str | None = None) -> list[str]:
        """The days that have rows, oldest first (only those before ``before`` if given).

        One index probe per day, so a month of a million rows costs thirty lookups, not a scan.
        """
        days: list[str] = []
        start = ""
        while True:
            first = self._one("SELECT min(timestamp) FROM logs WHERE timestamp >= ?", (start,))
            if first is None:
                return days
            day = str(first)[:10]
            if before is not None and day >= before:
                return days
            days.append(day)
            start = _next_day(day)

    def day_counts(self) -> dict[str, int]:
        """Rows per day, for the days in the database."""
        return {
            day: int(self._one("SELECT count(*) FROM logs WHERE timestamp >= ? AND timestamp < ?",
                               (day, _next_day(day))))
            for day in self.days_present()
        }

    def max_id(self) -> int:
        return int(self._one("SELECT coalesce(max(id), 0) FROM logs"))

    def iter_day(self, day: str, max_id: int, *,
                 page: int = PAGE_ROWS) -> Iterator[tuple[str, int, str | None, int | None, str]]:
        """``(timestamp, id, producer_id, seq, json_row)`` of the day's rows with ``id <= max_id``, in time order.

        Read a page per statement (keyset on the timestamp index), so no statement holds
        libSQL, and with it the GIL, for long.
        """
        end = _next_day(day)
        last: tuple[str, int] = ("", -1)
        sql = (
            f"SELECT timestamp, id, CAST(producer_id AS BLOB), seq, {_JSON_ROW} FROM logs "  # BLOB: whole past a NUL
            "WHERE timestamp >= ? AND timestamp < ? AND id <= ? AND (timestamp, id) > (?, ?) "
            "ORDER BY timestamp, id LIMIT ?"
        )
        while True:
            try:
                rows = self.conn.execute(sql, (day, end, max_id, last[0], last[1], page)).fetchall()
            except ValueError as exc:
                raise StoreError(f"cannot read the rows of {day}: {exc}") from exc
            for stamp, rid, producer, seq, row in rows:
                yield stamp, rid, producer.decode("utf-8", "replace") if producer is not None else None, seq, row
            if len(rows) < page:
                return
            last = (rows[-1][0], rows[-1][1])

    def size_on_disk(self) -> int:
        return size_on_disk(self.path)

    # -- the archive journal -------------------------------------------------------------------
    def archive_journal(self) -> dict[str, dict[str, Any]]:
        """What the store recorded about archived days (day -> file, records, sha256, ...)."""
        try:
            cur = self.conn.execute(
                "SELECT day, file, records, sha256, archived_at, pinned_until FROM archive_days ORDER BY day")
            names = [d[0] for d in cur.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
        except ValueError as exc:
            raise StoreError(f"cannot read the archive journal: {exc}") from exc

    def pinned_days(self, now: str) -> set[str]:
        """Days restored by hand that stay in the database until their pin runs out."""
        try:
            rows = self.conn.execute("SELECT day FROM archive_days WHERE pinned_until > ?", (now,)).fetchall()
        except ValueError as exc:
            raise StoreError(f"cannot read the archive journal: {exc}") from exc
        return {r[0] for r in rows}

    def pin_day(self, day: str, until: str) -> None:
        self._tx(lambda c: c.execute(
            "INSERT INTO archive_days(day, pinned_until) VALUES (?, ?) "
            "ON CONFLICT(day) DO UPDATE SET pinned_until = excluded.pinned_until", (day, until)),
            f"cannot pin {day}")

    def forget_days(self, days: Sequence[str]) -> None:
        """Drop the journal rows of ``days`` (their archives were deleted)."""
        if days:
            self._tx(lambda c: c.executemany("DELETE FROM archive_days WHERE day = ?", [(d,) for d in days]),
                     "cannot prune the archive journal")

    # -- deletes -------------------------------------------------------------------------------
    def delete_day(self, day: str, max_id: int, *, chunk: int, journal: dict[str, Any] | None = None) -> int:
        """Delete the day's rows with ``id <= max_id``, ``chunk`` rows per transaction.

        ``journal`` (file, records, sha256, archived_at) is recorded for the day in the same
        transaction as the first chunk: the store says where the rows went as they leave.
        """
        end = _next_day(day)
        total = 0
        first = True
        while True:
            def work(c: Connection, first: bool = first) -> int:
                c.execute(
                    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE timestamp >= ? AND timestamp < ? "
                    "AND id <= ? LIMIT ?)", (day, end, max_id, chunk))
                n = int(c.execute("SELECT changes()").fetchall()[0][0])
                if first and journal is not None:
                    c.execute(
                        "INSERT INTO archive_days(day, file, records, sha256, archived_at, pinned_until) "
                        "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(day) DO UPDATE SET file = excluded.file, "
                        "records = excluded.records, sha256 = excluded.sha256, "
                        "archived_at = excluded.archived_at, pinned_until = NULL",
                        (day, journal["file"], journal["records"], journal["sha256"], journal["archived_at"]))
                return n

            n = self._tx(work, f"cannot delete the rows of {day}")
            total += n
            first = False
            if n < chunk:
                return total

    def delete_before(self, day: str, *, chunk: int) -> int:
        """Delete every row older than ``day`` (retention), ``chunk`` rows per transaction."""
        total = 0
        while True:
            def work(c: Connection) -> int:
                c.execute("DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE timestamp < ? LIMIT ?)",
                          (day, chunk))
                return int(c.execute("SELECT changes()").fetchall()[0][0])

            n = self._tx(work, f"cannot delete rows older than {day}")
            total += n
            if n < chunk:
                return total

    # -- restore -------------------------------------------------------------------------------
    def insert_archived(self, columns: Sequence[str], rows_json: str) -> int:
        """Put archived rows (a JSON array of arrays in ``columns`` order) back; returns how many.

        A row comes back under its old id unless a row with that id is already there: if
        that row is the same record it is skipped, otherwise the record gets a new id. Rows
        whose (producer_id, seq) is already stored are skipped too. Restoring twice adds nothing.
        """
        index = {name: i for i, name in enumerate(columns)}
        cols = [c for c in COLUMNS if c in index]
        if not cols:
            raise StoreError("archive rows name none of the store's columns")
        val = {c: f"v.value->>{index[c]}" for c in (*cols, "id") if c in index}
        select = [val[c] for c in cols]
        where = "WHERE true"
        target = ", ".join(cols)
        if "id" in val:
            same = " AND ".join(f"l.{c} IS {val[c]}" for c in cols)
            select.insert(0, f"CASE WHEN EXISTS (SELECT 1 FROM logs l WHERE l.id = {val['id']}) "
                             f"THEN NULL ELSE {val['id']} END")
            target = f"id, {target}"
            where = f"WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.id = {val['id']} AND {same})"
        sql = (f"INSERT INTO logs ({target}) SELECT {', '.join(select)} FROM json_each(?) v {where} "
               "ON CONFLICT DO NOTHING")

        def work(c: Connection) -> int:
            c.execute(sql, (rows_json,))
            # changes(), not total_changes(): the full-text index trigger's inserts must not count.
            return int(c.execute("SELECT changes()").fetchall()[0][0])

        return self._tx(work, "cannot restore archived rows")

    # -- giving space back ---------------------------------------------------------------------
    def compact_text_index(self, *, step_pages: int = 1000, max_steps: int = 100_000) -> int:
        """Merge the full-text index, a bounded step per transaction, until no merge is left.

        FTS5 keeps a deleted row's index entries, beside a delete marker, until the segments
        holding them are merged: after a large delete the index would keep its size (and the
        deleted words) without this. A negative 'merge' merges every level, as 'optimize' does,
        but ``step_pages`` of work at a time, so the collector's writes go on in between.
        Returns how many steps did work.
        """
        def step(c: Connection) -> int:
            before = c.execute("SELECT total_changes()").fetchall()[0][0]
            c.execute("INSERT INTO logs_fts(logs_fts, rank) VALUES ('merge', ?)", (-step_pages,))
            return int(c.execute("SELECT total_changes()").fetchall()[0][0] - before)

        for done in range(max_steps):
            if self._tx(step, "cannot compact the full-text index") <= 1:  # the command itself counts one
                return done
        return max_steps

    def reclaim(self, *, step_pages: int = 2048) -> dict[str, Any]:
        """Give free pages back to the file system: incremental vacuum in steps, then a WAL checkpoint.

        The store is created with ``auto_vacuum=INCREMENTAL``; each step is its own short write.
        The full-text index is compacted first, so the space of deleted rows' entries is free too.
        Returns the pages freed and whether the checkpoint could truncate the WAL (it cannot
        while another connection reads an older snapshot).
        """
        self.compact_text_index()
        freed = 0
        try:
            while True:
                free = int(self.conn.execute("PRAGMA freelist_count").fetchall()[0][0])
                if free == 0:
                    break
                # libsql refuses PRAGMA incremental_vacuum through execute() ("returned rows").
                self.conn.executescript(f"PRAGMA incremental_vacuum({min(free, step_pages)});")
                after = int(self.conn.execute("PRAGMA freelist_count").fetchall()[0][0])
                if after >= free:
                    break
                freed += free - after
            busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
        except ValueError as exc:
            raise StoreError(f"cannot reclaim free space: {exc}") from exc
        return {"freed_pages": freed, "wal_truncated": not busy}
