"""The log store: one connection and the parts that use it, each with one job.

``LogStore`` opens the connection and holds the parts: ``reader`` (searches, counts, statistics,
SQL, by the one filter model ``filters.LogFilter``), ``writer`` (batches of records, rejects,
deletes), ``days`` (retention's day-by-day reads and deletes, the archive journal, restore),
``space`` (size on disk, giving space back) and ``ids`` (the analytics ETL's id windows). Their
methods are also the store's own, so a caller says ``store.search(...)``: each is named once in
the class body (``_Part``), its signature and docstring written once, in the part that does the
work, and mypy checks a call through the store against that signature. The collector holds the
single writing instance; readers (CLI, dashboard, ETL) open their own, read-only ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import find_key, load_key
from aico.store import layout, migrations, rekey_gate
from aico.store.connection import Connection, open_database
from aico.store.days import DayMaintenance
from aico.store.export import IdWindowExport
from aico.store.reader import StoreReader
from aico.store.space import Space
from aico.store.writer import InsertResult, Reject, StoreWriter

__all__ = ["InsertResult", "LogStore", "Reject"]

P = ParamSpec("P")
R = TypeVar("R")


class _Part(Generic[P, R]):
    """A method of one of the store's parts, as the store's own: ``search = _Part("reader", StoreReader.search)``.

    Read on a store it is the part's bound method (its signature and docstring, for mypy and for
    ``help``); read on the class it is this descriptor, which names the part and the method.
    """

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.part = part
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.method.__name__:
            raise TypeError(f"LogStore.{name} would call {self.part}.{self.method.__name__}: the names must agree")

    @overload
    def __get__(self, store: None, owner: type) -> _Part[P, R]: ...

    @overload
    def __get__(self, store: LogStore, owner: type) -> Callable[P, R]: ...

    def __get__(self, store: LogStore | None, owner: type) -> _Part[P, R] | Callable[P, R]:
        if store is None:
            return self
        bound: Callable[P, R] = getattr(getattr(store, self.part), self.method.__name__)
        return bound


class LogStore:
    """The parts of the store over one connection; closing the store closes the connection."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.reader = StoreReader(conn, path)
        self.writer = StoreWriter(conn, self.reader)
        self.days = DayMaintenance(conn)
        self.space = Space(conn, path)
        self.ids = IdWindowExport(conn)

    # reads (reader.py)
    search = _Part("reader", StoreReader.search)
    get = _Part("reader", StoreReader.get)
    count = _Part("reader", StoreReader.count)
    count_rejects = _Part("reader", StoreReader.count_rejects)
    max_id = _Part("reader", StoreReader.max_id)
    stats = _Part("reader", StoreReader.stats)
    query = _Part("reader", StoreReader.query)
    iter_rows = _Part("reader", StoreReader.iter_rows)
    rejects = _Part("reader", StoreReader.rejects)
    info = _Part("reader", StoreReader.info)
    # writes (writer.py)
    insert_batch = _Part("writer", StoreWriter.insert_batch)
    insert_rejects = _Part("writer", StoreWriter.insert_rejects)
    prune_rejects = _Part("writer", StoreWriter.prune_rejects)
    delete = _Part("writer", StoreWriter.delete)
    # retention, archives and restore, day by day (days.py)
    days_present = _Part("days", DayMaintenance.days_present)
    day_counts = _Part("days", DayMaintenance.day_counts)
    iter_day = _Part("days", DayMaintenance.iter_day)
    archive_journal = _Part("days", DayMaintenance.archive_journal)
    pinned_days = _Part("days", DayMaintenance.pinned_days)
    pin_day = _Part("days", DayMaintenance.pin_day)
    forget_days = _Part("days", DayMaintenance.forget_days)
    delete_day = _Part("days", DayMaintenance.delete_day)
    delete_before = _Part("days", DayMaintenance.delete_before)
    insert_archived = _Part("days", DayMaintenance.insert_archived)
    # space on disk (space.py)
    size_on_disk = _Part("space", Space.size_on_disk)
    reclaim = _Part("space", Space.reclaim)
    # the analytics ETL's id windows (export.py)
    last_issued_id = _Part("ids", IdWindowExport.last_issued_id)
    iter_since = _Part("ids", IdWindowExport.iter_since)

    @classmethod
    def open(cls, settings: Settings, *, writer: bool = False) -> LogStore:
        """The store of ``settings``. A writer creates it (and its key) on first start.

        The key is read and the connection made inside the rekey gate (``rekey_gate.py``): an open
        during a key rotation waits for it, then reads the key now current. After a rotation cut
        short the store may open with ``db.next`` only (``keyset/rotation.py``): it is tried next,
        and a writer (the backend starting) settles the keys once connected.
        """
        path = settings.database_path
        is_new = not path.exists()
        if is_new and not writer:
            raise StoreError(f"no log store at {path}; start the backend once (aico backend start) to create it")

        def connect(key: str) -> Connection:
            return open_database(path, key, create=writer, synchronous=settings.core.logging.consumer.synchronous,
                                 read_only=not writer)

        with rekey_gate.entering(path):
            key = load_key(settings, "db", create=writer and is_new)
            try:
                conn = connect(key)
                cut_short = False
            except EncryptionKeyError:  # a key rotation cut short: the new key may be the one
                pending = find_key(settings, "db.next", None)
                if pending is None or pending[1] == key:
                    raise
                conn = connect(pending[1])
                cut_short = True
        if cut_short and writer:
            from aico.keyset.rotation import settle_db

            with contextlib.suppress(StoreError):  # another rotation under way settles it itself
                settle_db(settings)
        try:
            if writer:
                migrations.migrate(conn)
            else:
                layout.require(conn, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        """Close the connection (the parts share it)."""
        self.conn.close()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
