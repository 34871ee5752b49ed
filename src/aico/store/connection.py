"""Opening the encrypted libSQL database, with libSQL errors translated at this boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libsql

from aico.errors import EncryptionKeyError, StoreError

Connection = Any  # libsql.Connection has no importable type

# Pages of a new store. Each page is encrypted on its own, and a batch of rows touches the
# table and seven indexes: 16 KiB pages cost the writer ~10% less CPU per record than 4 KiB
# (bench/store_insert.py), and a page still decrypts in microseconds for a point lookup.
PAGE_SIZE = 16384


def open_database(path: Path, key: str, *, create: bool = False, synchronous: str = "NORMAL",
                  read_only: bool = False) -> Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, with a busy timeout."""
    if not create and not path.exists():
        raise StoreError(f"no log store at {path}; start the backend once (aico backend start) to create it")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = libsql.connect(str(path), encryption_key=key, isolation_level=None)
    except ValueError as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
    except ValueError as exc:
        conn.close()
        if "not a database" in str(exc):
            raise EncryptionKeyError(
                f"cannot open {path}: wrong encryption key (or not an aico database)"
            ) from exc
        raise StoreError(f"cannot open {path}: {exc}") from exc
    try:
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
    except ValueError as exc:
        conn.close()
        raise StoreError(f"cannot configure {path}: {exc}") from exc
    return conn
