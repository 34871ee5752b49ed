"""Rotating the database key in place, crash-safely (SQLite3 Multiple Ciphers ``PRAGMA rekey``).

The order makes every moment safe: the new key is first kept as ``db.next``; the store is
re-encrypted in one transaction (in rollback-journal mode: ``rekey`` is refused in WAL mode, so
the store leaves WAL for it and goes back after); only then does ``db`` hold the new key, and
``db.next`` is forgotten. A kill before the rekey commits leaves the store under the old key
(a hot journal is rolled back by the next open, with the old key, which ``db`` still holds); a
kill after it leaves the store under the new key with ``db.next`` holding it: ``settle_db``,
called when the store does not open with ``db``, tries ``db.next`` and finishes the rotation.

The rekey needs the store to itself: with the backend running it is refused with a line saying
to stop it first.
"""

from __future__ import annotations

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint
from aico.keyset.keeping import begin_rotation, drop_key, get_key, put_key
from aico.store.connection import open_database

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
        drop_key(settings, NEXT)  # the rekey never committed (or db already holds the new key)
        return current[1]
    if not _opens(settings, pending[1]):
        return None
    put_key(settings, DB, pending[1], current[0] if current and current[0] != "environment" else pending[0])
    drop_key(settings, NEXT)
    return pending[1]


def rotate_db(settings: Settings) -> tuple[str, str]:
    """Re-encrypt the store under a new key; (old, new) fingerprints."""
    path = settings.database_path
    if not path.exists():
        raise StoreError(f"no log store at {path}: nothing to re-key")
    settle_db(settings)
    where, old, new = begin_rotation(settings, DB, DB_ENV, f"no database key found for {path}: restore it first "
                                     "(aico keys import)")
    conn = open_database(path, old)
    try:
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchall()[0][0]
        if str(mode).lower() != "delete":
            raise StoreError("the store is in use (is the backend running?): stop it, then rotate the key")
        conn.execute(f"PRAGMA rekey='{new}'")
    except (StoreError, ValueError) as exc:
        drop_key(settings, NEXT)  # not re-keyed: the old key still opens it
        conn.close()
        if isinstance(exc, StoreError):
            raise
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
