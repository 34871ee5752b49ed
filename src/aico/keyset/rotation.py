"""Rotating the database key in place, crash-safely (SQLite3 Multiple Ciphers ``PRAGMA rekey``),
with the backend running or stopped.

The order makes every moment safe: the new key is first kept as ``db.next``; the store is
re-encrypted in one transaction (in rollback-journal mode: ``rekey`` is refused in WAL mode, so
the store leaves WAL for it and goes back after); only then does ``db`` hold the new key, and
``db.next`` is forgotten. A kill before the rekey commits leaves the store under the old key
(a hot journal is rolled back by the next open, with the old key, which ``db`` still holds); a
kill after it leaves the store under the new key with ``db.next`` holding it. Every open tries
``db``, then ``db.next``; ``settle_db`` (the next rotation, or the backend's writer starting)
makes ``db`` the key that opens the store and forgets ``db.next``.

Leaving WAL needs every other connection closed. The whole rotation holds the rekey gate
(``store/rekey_gate.py``): opens wait for it, and the holders of long-lived connections (the
backend's store writer, the dashboard, ``aico logs tail -f``) close theirs at their next use, or
after ``IDLE_RELEASE_S`` unused, and open again with the new key once it is done. A connection
that stays open past ``wait_s`` (a long export, an analytics run, an older aico) makes the
rotation give up: ``db.next`` is forgotten and the old key still opens the store.
"""

from __future__ import annotations

import time

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint
from aico.keyset.keeping import begin_rotation, drop_key, get_key, put_key
from aico.store import rekey_gate
from aico.store.connection import Connection, open_database

DB = "db"
DB_ENV = "AICO_DB_KEY"
NEXT = "db.next"
WAIT_S = 30.0  # how long a rotation waits for the other connections to the store to close
SETTLE_WAIT_S = 5.0  # how long a starting writer waits to settle the keys (a rotation under way settles them)


def _opens(settings: Settings, key: str) -> bool:
    try:
        open_database(settings.database_path, key).close()
    except EncryptionKeyError:
        return False
    return True


def _settle(settings: Settings) -> str | None:
    """With the gate held: the key that opens the store, kept as ``db``; None if none does."""
    pending = get_key(settings, NEXT)
    if pending is None:
        return None
    current = find_key(settings, DB, DB_ENV)
    if current is not None and _opens(settings, current[1]):
        drop_key(settings, NEXT)  # the rekey never committed (or db already holds the new key)
        return current[1]
    if not _opens(settings, pending[1]):
        return None
    put_key(settings, DB, pending[1], current[0] if current and current[0] != "environment" else pending[0])
    drop_key(settings, NEXT)
    return pending[1]


def settle_db(settings: Settings, wait_s: float = SETTLE_WAIT_S) -> str | None:
    """After a rotation was cut short: the key that opens the store, kept as ``db``; None if none does.

    ``StoreError`` if another rotation holds the gate for ``wait_s`` (it settles the keys itself).
    """
    with rekey_gate.rotating(settings.database_path, wait_s):
        return _settle(settings)


def _leave_wal(conn: Connection, deadline: float, wait_s: float) -> None:
    """Switch to rollback-journal mode once every other connection is closed, or ``StoreError`` at ``deadline``."""
    conn.execute("PRAGMA busy_timeout=100")
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
            raise StoreError(f"the store stayed open elsewhere for {wait_s:.0f} s (a long query, export or "
                             "analytics run, or an older aico): the old key still opens it; rotate again once "
                             "they are done")
        time.sleep(rekey_gate.RETRY_S)


def rotate_db(settings: Settings, *, wait_s: float = WAIT_S) -> tuple[str, str]:
    """Re-encrypt the store under a new key; (old, new) fingerprints. The backend may run meanwhile."""
    path = settings.database_path
    if not path.exists():
        raise StoreError(f"no log store at {path}: nothing to re-key")
    with rekey_gate.rotating(path, wait_s) as deadline:
        _settle(settings)
        where, old, new = begin_rotation(settings, DB, DB_ENV, f"no database key found for {path}: restore it "
                                         "first (aico keys import)")
        try:
            conn = open_database(path, old)
        except StoreError:
            drop_key(settings, NEXT)
            raise
        try:
            _leave_wal(conn, deadline, wait_s)
            conn.execute(f"PRAGMA rekey='{new}'")
        except (StoreError, ValueError) as exc:
            drop_key(settings, NEXT)  # not re-keyed: the old key still opens it
            conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot re-key {path}: {exc}") from exc
        try:  # re-keyed: from here db.next holds the only key that opens the store until db holds it
            conn.execute("PRAGMA journal_mode=WAL")
        except ValueError:
            pass  # the next writer to open it switches to WAL
        finally:
            conn.close()
        put_key(settings, DB, new, where)
        drop_key(settings, NEXT)
    return fingerprint(old), fingerprint(new)
