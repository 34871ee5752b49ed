"""Opening the encrypted libSQL database, with libSQL errors translated at this boundary."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import libsql

from aico.errors import EncryptionKeyError, StoreError
from aico.store.edge import Connection, mapped

__all__ = ["Connection", "open_database"]

# Pages of a new store. Each page is encrypted on its own, and a batch of rows touches the
# table and seven indexes: 16 KiB pages cost the writer ~10% less CPU per record than 4 KiB
# (bench/store_insert.py), and a page still decrypts in microseconds for a point lookup.
PAGE_SIZE = 16384


def _read_only_fs(path: Path) -> bool:
    """Whether the folder of ``path`` cannot be written (a read-only mount, or no permission)."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK)


def _read_only_note(path: Path) -> str:
    return f" ({path.parent} is read-only)" if _read_only_fs(path) else ""


def _connect(target: str, key: str, shown: str) -> Connection:
    """A checked connection to ``target`` (a path or a ``file:`` URI); ``shown`` names it in errors."""
    with mapped(f"cannot open {shown}"):
        conn = libsql.connect(target, encryption_key=key, isolation_level=None)
    try:
        with mapped(f"cannot open {shown}"):  # a wrong key shows here: EncryptionKeyError
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except StoreError:
        conn.close()
        raise
    return conn


def open_database(path: Path, key: str, *, create: bool = False, synchronous: str = "NORMAL",
                  read_only: bool = False) -> Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout.

    A reader on a read-only file system (a read-only ``AICO_HOME``) still reads: SQLite cannot
    make the WAL's shared-memory file there, so the file is opened as immutable (nobody can
    write it there anyway). A writer there gets an error that names the cause.
    """
    if not create and not path.exists():
        raise StoreError(f"no log store at {path}; start the backend once (aico backend start) to create it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot make {path.parent}: {exc.strerror}{_read_only_note(path)}") from exc
    try:
        conn = _connect(str(path), key, str(path))
    except EncryptionKeyError:
        raise
    except StoreError as exc:
        if not (read_only and _read_only_fs(path)):
            raise StoreError(f"{exc}{_read_only_note(path)}") from exc
        conn = _connect(f"file:{quote(str(path))}?immutable=1", key, str(path))
    try:
        with mapped(f"cannot configure {path}"):
            _configure(conn, create=create, synchronous=synchronous, read_only=read_only)
    except StoreError as exc:
        conn.close()
        raise StoreError(f"{exc}{_read_only_note(path)}") from exc.__cause__
    return conn


def _configure(conn: Connection, *, create: bool, synchronous: str, read_only: bool) -> None:
    """The pragmas of a store connection (a new file's page size and vacuum mode among them)."""
    conn.execute("PRAGMA busy_timeout=10000")
    if create:  # both only take effect on a new file
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    if not read_only:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay in memory between batches
    conn.execute(f"PRAGMA synchronous={synchronous}")
    if read_only:
        conn.execute("PRAGMA query_only=ON")
