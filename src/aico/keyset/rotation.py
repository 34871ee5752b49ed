"""Rotating the database key in place, crash-safely (SQLite3 Multiple Ciphers ``PRAGMA rekey``).

The order makes every moment safe: the new key is first kept as ``db.next``; the store is
re-encrypted in one transaction (in rollback-journal mode: ``rekey`` is refused in WAL mode, so
the store leaves WAL for it and goes back after); only then does ``db`` hold the new key, and
``db.next`` is forgotten. A kill before the rekey commits leaves the store under the old key
(a hot journal is rolled back by the next open, with the old key, which ``db`` still holds); a
kill after it leaves the store under the new key with ``db.next`` holding it: ``settle_db``,
called when the store does not open with ``db``, tries ``db.next`` and finishes the rotation.

The rekey needs the store to itself (leaving WAL waits for every other connection to close).
With the backend running, ``rotate_db_anyhow`` asks it (``online.py``): its store writer closes
its connection and runs ``rotate_db`` with ``readers_wait``, the time it waits for readers to go
(the dashboard's pool closes its connections when asked; a ``tail -f`` does not), then reopens.
Waited out, the store is left as it was and the reason is one line.
"""

from __future__ import annotations

import time

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint
from aico.keyset.keeping import begin_rotation, drop_key, get_key, put_key
from aico.keyset.online import ask_backend, backend_consumer_running, rekey_active
from aico.store.connection import Connection, open_database

DB = "db"
DB_ENV = "AICO_DB_KEY"
NEXT = "db.next"


def _opens(settings: Settings, key: str) -> bool:
    try:
        open_database(settings.database_path, key).close()
    except EncryptionKeyError:
        return False
    return True


def settle_db(settings: Settings) -> str | None:
    """After a rotation was cut short: the key that opens the store, kept as ``db``; None if none does."""
    pending = get_key(settings, NEXT)
    if pending is None:
        return None
    current = find_key(settings, DB, DB_ENV)
    if current is not None and _opens(settings, current[1]):
        if rekey_active(settings):
            return None  # the backend is re-keying right now: db.next is not a leftover
        drop_key(settings, NEXT)  # the rekey never committed (or db already holds the new key)
        return current[1]
    if not _opens(settings, pending[1]):
        return None
    put_key(settings, DB, pending[1], current[0] if current and current[0] != "environment" else pending[0])
    drop_key(settings, NEXT)
    return pending[1]


def _leave_wal(conn: Connection, readers_wait: float) -> None:
    """Switch to rollback-journal mode, waiting up to ``readers_wait`` seconds for other connections to close."""
    conn.execute("PRAGMA busy_timeout=200")
    deadline = time.monotonic() + readers_wait
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode=DELETE").fetchall()[0][0]).lower()
        except ValueError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            mode = "wal"
        if mode == "delete":
            conn.execute("PRAGMA busy_timeout=10000")
            return
        if time.monotonic() >= deadline:
            what = (f"other connections kept it open for {readers_wait:.0f} s (aico logs tail -f, a query, "
                    "the analytics job?): close them and rotate again") if readers_wait else \
                "the store is in use (is the backend running?): stop it, then rotate the key"
            raise StoreError(what)
        time.sleep(0.1)


def rotate_db(settings: Settings, *, readers_wait: float = 0.0) -> tuple[str, str]:
    """Re-encrypt the store under a new key; (old, new) fingerprints. No other writer may hold it."""
    path = settings.database_path
    if not path.exists():
        raise StoreError(f"no log store at {path}: nothing to re-key")
    settle_db(settings)
    where, old, new = begin_rotation(settings, DB, DB_ENV, f"no database key found for {path}: restore it first "
                                     "(aico keys import)")
    conn = open_database(path, old)
    try:
        _leave_wal(conn, readers_wait)
        conn.execute(f"PRAGMA rekey='{new}'")
    except StoreError:
        drop_key(settings, NEXT)
        conn.close()
        raise
    except ValueError as exc:
        drop_key(settings, NEXT)
        conn.close()
        raise StoreError(f"cannot re-key {path}: {exc}; is the backend running? stop it, then rotate the key") from exc
    try:  # re-keyed: from here db.next holds the only key that opens the store until db holds it
        conn.execute("PRAGMA journal_mode=WAL")
    except ValueError:
        pass  # the next writer to open it switches to WAL
    finally:
        conn.close()
    put_key(settings, DB, new, where)
    drop_key(settings, NEXT)
    return fingerprint(old), fingerprint(new)


def rotate_db_anyhow(settings: Settings, *, timeout: float) -> tuple[str, str]:
    """``rotate_db`` here with the backend stopped, or by the running backend's store writer."""
    if backend_consumer_running(settings):
        return ask_backend(settings, timeout)
    return rotate_db(settings)
