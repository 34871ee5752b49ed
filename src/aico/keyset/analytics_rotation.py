"""Rotating the analytics key: the DuckDB copy written again under a new key, then swapped in.

The new key is first kept as ``analytics.next``. The database is checkpointed, copied whole
(``COPY FROM DATABASE``) into ``<file>.rekey`` encrypted under the new key, fsynced and renamed
over the file; only then does ``analytics`` hold the new key and ``analytics.next`` is forgotten.
A kill leaves the file under the old key (the copy not yet renamed) or under the new one (renamed,
the key not yet promoted): ``settle_analytics``, called before the file is opened whenever
``analytics.next`` exists, tries which key opens it and keeps that one.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from aico.analytics import connection
from aico.config.private import fsync_path
from aico.config.settings import Settings
from aico.errors import StoreError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint
from aico.keyset.keeping import begin_rotation, drop_key, get_key, put_key

NEXT = "analytics.next"


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"LOAD {connection._quote(str(connection.httpfs_extension_path()))}")  # its OpenSSL encrypts
    return con


def _attach(con: duckdb.DuckDBPyConnection, path: Path, key: str, name: str, extra: str = "") -> None:
    con.execute(f"ATTACH {connection._quote(str(path))} AS {name} (ENCRYPTION_KEY {connection._quote(key)}{extra})")


def _opens(path: Path, key: str) -> bool:
    con = _connect()
    try:
        _attach(con, path, key, "probe", ", READ_ONLY")
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def _rekey_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.rekey")


def _clean(path: Path) -> None:
    for leftover in (_rekey_path(path), Path(f"{_rekey_path(path)}.wal")):
        leftover.unlink(missing_ok=True)


def settle_analytics(settings: Settings) -> None:
    """Finish (or drop) a rotation cut short; nothing to do when none was."""
    pending = get_key(settings, NEXT)
    if pending is None:
        return
    path = settings.analytics_path
    current = find_key(settings, connection.KEY_NAME, connection.KEY_ENV)
    if current is not None and path.exists() and _opens(path, current[1]):
        drop_key(settings, NEXT)  # the copy never replaced the file
    elif path.exists() and _opens(path, pending[1]):
        where = current[0] if current and current[0] != "environment" else pending[0]
        put_key(settings, connection.KEY_NAME, pending[1], where)
        drop_key(settings, NEXT)
    _clean(path)


def rotate_analytics(settings: Settings) -> tuple[str, str]:
    """Write the analytics copy again under a new key; (old, new) fingerprints. Needs the file to
    itself: with the backend's analytics plugin running it is refused (the file is locked)."""
    path = settings.analytics_path
    if not path.exists():
        raise StoreError(f"no analytics database at {path}: nothing to re-key")
    settle_analytics(settings)
    where, old, new = begin_rotation(settings, connection.KEY_NAME, connection.KEY_ENV,
                                     f"no analytics key found for {path}")
    target = _rekey_path(path)
    _clean(path)
    con = _connect()
    try:
        _attach(con, path, old, "current")
        con.execute("CHECKPOINT current")
        _attach(con, target, new, "rekeyed")
        con.execute("COPY FROM DATABASE current TO rekeyed")
        con.execute("DETACH rekeyed")
        con.execute("DETACH current")
    except duckdb.Error as exc:
        drop_key(settings, NEXT)
        _clean(path)
        raise connection.translate(exc, path) from exc
    except BaseException:
        drop_key(settings, NEXT)
        _clean(path)
        raise
    finally:
        con.close()
    if Path(f"{path}.wal").exists() or Path(f"{target}.wal").exists():
        drop_key(settings, NEXT)
        _clean(path)
        raise StoreError(f"{path} was written to during the rotation: stop the backend, then rotate again")
    fsync_path(target)
    os.replace(target, path)
    fsync_path(path.parent)
    put_key(settings, connection.KEY_NAME, new, where)
    drop_key(settings, NEXT)
    return fingerprint(old), fingerprint(new)
