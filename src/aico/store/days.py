"""Day-by-day maintenance of the ``logs`` table, for retention and the archives.

Days are UTC calendar days: a record's day is the first ten characters of its timestamp,
and the day's rows are the ``timestamp`` index range ``[day, next day)``. Every write here
is a short transaction (a chunk of rows), so the collector's writer is never held up long.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from aico.errors import StoreError
from aico.schema.record import COLUMNS
from aico.store import layout
from aico.store.edge import Connection, changes, column, mapped, scalar, transaction

ARCHIVE_COLUMNS = layout.FIELDS
_JSON_ROW = layout.json_row("logs")
_TABLE = layout.TABLE
PAGE_ROWS = 2000


def _next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


class DayMaintenance:
    """Reads and chunked writes of the ``logs`` table a day at a time, and the archive journal."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return scalar(self.conn, sql, params)

    # -- reads -------------------------------------------------------------------------------
    def days_present(self, before: str | None = None) -> list[str]:
        """The days that have rows, oldest first (only those before ``before`` if given).

        One index probe per day, so a month of a million rows costs thirty lookups, not a scan.
        """
        days: list[str] = []
        start = ""
        while True:
            first = self._one(f"SELECT min(timestamp) FROM {_TABLE} WHERE timestamp >= ?", (start,))
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
            day: int(self._one(f"SELECT count(*) FROM {_TABLE} WHERE timestamp >= ? AND timestamp < ?",
                               (day, _next_day(day))))
            for day in self.days_present()
        }

    def iter_day(self, day: str, max_id: int, *,
                 page: int = PAGE_ROWS) -> Iterator[tuple[str, int, str | None, int | None, str]]:
        """``(timestamp, id, producer_id, seq, json_row)`` of the day's rows with ``id <= max_id``, in time order.

        Read a page per statement (keyset on the timestamp index), so no statement holds
        libSQL, and with it the GIL, for long.
        """
        end = _next_day(day)
        last: tuple[str, int] = ("", -1)
        sql = (
            f"SELECT timestamp, id, CAST({layout.decoded('producer_id')} AS BLOB), seq, {_JSON_ROW} "  # BLOB: NUL
            f"FROM {layout.SOURCE} "
            "WHERE timestamp >= ? AND timestamp < ? AND id <= ? AND (timestamp, id) > (?, ?) "
            "ORDER BY timestamp, id LIMIT ?"
        )
        while True:
            with mapped(f"cannot read the rows of {day}"):
                rows = self.conn.execute(sql, (day, end, max_id, last[0], last[1], page)).fetchall()
            for stamp, rid, producer, seq, row in rows:
                yield stamp, rid, producer.decode("utf-8", "replace") if producer is not None else None, seq, row
            if len(rows) < page:
                return
            last = (rows[-1][0], rows[-1][1])

    # -- the archive journal -------------------------------------------------------------------
    def archive_journal(self) -> dict[str, dict[str, Any]]:
        """What the store recorded about archived days (day -> file, records, sha256, ...)."""
        with mapped("cannot read the archive journal"):
            cur = self.conn.execute(
                "SELECT day, file, records, sha256, archived_at, pinned_until FROM archive_days ORDER BY day")
            names = [d[0] for d in cur.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}

    def pinned_days(self, now: str) -> set[str]:
        """Days restored by hand that stay in the database until their pin runs out."""
        return set(column(self.conn, "SELECT day FROM archive_days WHERE pinned_until > ?", (now,),
                          "cannot read the archive journal"))

    def pin_day(self, day: str, until: str) -> None:
        with transaction(self.conn, f"cannot pin {day}") as c:
            c.execute("INSERT INTO archive_days(day, pinned_until) VALUES (?, ?) "
                      "ON CONFLICT(day) DO UPDATE SET pinned_until = excluded.pinned_until", (day, until))

    def forget_days(self, days: Sequence[str]) -> None:
        """Drop the journal rows of ``days`` (their archives were deleted)."""
        if days:
            with transaction(self.conn, "cannot prune the archive journal") as c:
                c.executemany("DELETE FROM archive_days WHERE day = ?", [(d,) for d in days])

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
            with transaction(self.conn, f"cannot delete the rows of {day}") as c:
                c.execute(
                    f"DELETE FROM {_TABLE} WHERE id IN (SELECT id FROM {_TABLE} WHERE timestamp >= ? AND timestamp < ? "
                    "AND id <= ? LIMIT ?)", (day, end, max_id, chunk))
                n = changes(c)
                if first and journal is not None:
                    c.execute(
                        "INSERT INTO archive_days(day, file, records, sha256, archived_at, pinned_until) "
                        "VALUES (?, ?, ?, ?, ?, NULL) ON CONFLICT(day) DO UPDATE SET file = excluded.file, "
                        "records = excluded.records, sha256 = excluded.sha256, "
                        "archived_at = excluded.archived_at, pinned_until = NULL",
                        (day, journal["file"], journal["records"], journal["sha256"], journal["archived_at"]))
            total += n
            first = False
            if n < chunk:
                return total

    def delete_before(self, day: str, *, chunk: int) -> int:
        """Delete every row older than ``day`` (retention), ``chunk`` rows per transaction."""
        total = 0
        while True:
            with transaction(self.conn, f"cannot delete rows older than {day}") as c:
                c.execute(f"DELETE FROM {_TABLE} WHERE id IN (SELECT id FROM {_TABLE} WHERE timestamp < ? LIMIT ?)",
                          (day, chunk))
                n = changes(c)
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
        values = {c: val[c] for c in cols}
        where = "true"
        if "id" in val:  # the view ``logs`` compares the records' text
            same = " AND ".join(f"l.{c} IS {val[c]}" for c in cols)
            values["id"] = (f"CASE WHEN EXISTS (SELECT 1 FROM {_TABLE} l WHERE l.id = {val['id']}) "
                            f"THEN NULL ELSE {val['id']} END")
            where = f"NOT EXISTS (SELECT 1 FROM logs l WHERE l.id = {val['id']} AND {same})"
        source = "json_each(?1) v"  # ?1: every statement binds the one text, however often it names it
        remember = layout.remember_sql({c: v for c, v in values.items() if c in layout.DICTIONARY}, source)
        sql = layout.insert_sql(values, source, where=where)
        with transaction(self.conn, "cannot restore archived rows") as c:
            for statement in remember:
                c.execute(statement, (rows_json,))
            c.execute(sql, (rows_json,))
            return changes(c)  # changes(), not total_changes(): the full-text index trigger's inserts
