"""The log store: one connection and the parts that use it, each with one job.

``LogStore`` opens the connection and holds the parts: ``reader`` (searches, counts, statistics,
SQL, by the one filter model ``filters.LogFilter``), ``writer`` (batches of records, rejects,
deletes), ``days`` (retention's day-by-day reads and deletes, the archive journal, restore),
``space`` (size on disk, giving space back) and ``ids`` (the analytics ETL's id windows). Their
methods are also the store's own, so a caller says ``store.search(...)``. The collector holds
the single writing instance; readers (CLI, dashboard, ETL) open their own, read-only ones.
"""

from __future__ import annotations

from pathlib import Path

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import load_key
from aico.store import layout, migrations
from aico.store.connection import Connection, open_database
from aico.store.days import DayMaintenance
from aico.store.export import IdWindowExport
from aico.store.reader import StoreReader
from aico.store.space import Space
from aico.store.writer import InsertResult, Reject, StoreWriter

__all__ = ["InsertResult", "LogStore", "Reject"]


class LogStore:
    """The parts of the store over one connection; closing the store closes the connection."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.close = conn.close
        self.reader = reader = StoreReader(conn, path)
        self.writer = writer = StoreWriter(conn, reader)
        self.days = days = DayMaintenance(conn)
        self.space = space = Space(conn, path)
        self.ids = ids = IdWindowExport(conn)
        # the parts' methods, under the store's name
        self.search = reader.search
        self.get = reader.get
        self.count = reader.count
        self.count_rejects = reader.count_rejects
        self.max_id = reader.max_id
        self.stats = reader.stats
        self.query = reader.query
        self.iter_rows = reader.iter_rows
        self.rejects = reader.rejects
        self.info = reader.info
        self.insert_batch = writer.insert_batch
        self.insert_rejects = writer.insert_rejects
        self.prune_rejects = writer.prune_rejects
        self.delete = writer.delete
        self.days_present = days.days_present
        self.day_counts = days.day_counts
        self.iter_day = days.iter_day
        self.archive_journal = days.archive_journal
        self.pinned_days = days.pinned_days
        self.pin_day = days.pin_day
        self.forget_days = days.forget_days
        self.delete_day = days.delete_day
        self.delete_before = days.delete_before
        self.insert_archived = days.insert_archived
        self.size_on_disk = space.size_on_disk
        self.reclaim = space.reclaim
        self.last_issued_id = ids.last_issued_id
        self.iter_since = ids.iter_since

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
        try:
            if writer:
                migrations.migrate(conn)
            else:
                layout.require(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
