"""Giving space back after deletes: the full-text index merged, free pages vacuumed, the WAL truncated.

Each step is its own short write, so the collector's writes go on in between.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aico.store.edge import Connection, mapped, scalar, transaction
from aico.store.ondisk import size_on_disk


class Space:
    """The store's size on disk and the work that makes it smaller."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    def size_on_disk(self) -> int:
        return size_on_disk(self.path)

    def compact_text_index(self, *, step_pages: int = 1000, max_steps: int = 100_000) -> int:
        """Merge the full-text index, a bounded step per transaction, until no merge is left.

        FTS5 keeps a deleted row's index entries, beside a delete marker, until the segments
        holding them are merged: after a large delete the index would keep its size (and the
        deleted words) without this. A negative 'merge' merges every level, as 'optimize' does,
        but ``step_pages`` of work at a time. Returns how many steps did work.
        """
        for done in range(max_steps):
            with transaction(self.conn, "cannot compact the full-text index") as c:
                before = c.execute("SELECT total_changes()").fetchall()[0][0]
                c.execute("INSERT INTO logs_fts(logs_fts, rank) VALUES ('merge', ?)", (-step_pages,))
                merged = int(c.execute("SELECT total_changes()").fetchall()[0][0] - before)
            if merged <= 1:  # the command itself counts one
                return done
        return max_steps

    def reclaim(self, *, step_pages: int = 2048) -> dict[str, Any]:
        """Give free pages back to the file system: incremental vacuum in steps, then a WAL checkpoint.

        The store is created with ``auto_vacuum=INCREMENTAL``. The full-text index is compacted
        first, so the space of deleted rows' entries is free too. Returns the pages freed and
        whether the checkpoint could truncate the WAL (it cannot while another connection reads
        an older snapshot).
        """
        self.compact_text_index()
        freed = 0
        what = "cannot reclaim free space"
        while True:
            free = int(scalar(self.conn, "PRAGMA freelist_count", what=what))
            if free == 0:
                break
            with mapped(what):  # libsql refuses PRAGMA incremental_vacuum through execute() ("returned rows")
                self.conn.executescript(f"PRAGMA incremental_vacuum({min(free, step_pages)});")
            after = int(scalar(self.conn, "PRAGMA freelist_count", what=what))
            if after >= free:
                break
            freed += free - after
        with mapped(what):
            busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
        return {"freed_pages": freed, "wal_truncated": not busy}
