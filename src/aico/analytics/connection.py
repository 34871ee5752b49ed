"""Opening the encrypted analytics database (DuckDB), with DuckDB errors translated here.

DuckDB writes encrypted files only with the httpfs extension loaded (its OpenSSL-backed
cipher); there is no network to ``INSTALL`` it, so the extension file shipped in the PyPI
package ``duckdb-extension-httpfs`` is loaded by path. The database is attached to an
in-memory connection, so scratch tables of a run never touch the disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from aico.config.private import private_dir
from aico.config.settings import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.keys import load_key

CATALOG = "analytics"
KEY_NAME = "analytics"
KEY_ENV = "AICO_ANALYTICS_KEY"
ROW_GROUP_SIZE = 32_768


def httpfs_extension_path() -> Path:
    """The httpfs extension file of the installed ``duckdb-extension-httpfs`` package."""
    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise StoreError("the package duckdb-extension-httpfs is missing; reinstall aico-logging") from exc
    path = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}" / \
        "httpfs.duckdb_extension"
    if not path.exists():
        raise StoreError(f"no httpfs extension for duckdb {duckdb.__version__} at {path}; "
                         "duckdb and duckdb-extension-httpfs must have the same version")
    return path


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """``BEGIN`` ... ``COMMIT``, or ``ROLLBACK`` on any exception (KeyboardInterrupt too)."""
    con.execute("BEGIN")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def translate(exc: duckdb.Error, path: Path) -> StoreError:
    """A DuckDB error about the database file as one of ours, with what to do about it."""
    text = str(exc)
    if "encryption key" in text.lower() or "without a key" in text or "encrypted database" in text:
        return EncryptionKeyError(f"cannot open {path}: wrong analytics key (or not an aico analytics database)")
    if "Could not set lock" in text or "Conflicting lock" in text:
        return StoreError(f"{path} is in use by another process (an ETL run, or the backend's log_analytics "
                          "plugin); try again when it has finished")
    return StoreError(f"analytics database {path}: {text}")


@contextmanager
def open_analytics(settings: Settings, *, create: bool = False, read_only: bool = False
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with the encrypted analytics database attached and in use.

    The key is made only together with a new file (``create``); a missing key for an existing
    file is an error, never a new key. Temp files (spilling) are encrypted too.
    """
    path = settings.analytics_path
    exists = path.exists()
    if not exists and not create:
        raise StoreError(f"no analytics database at {path}; run `aico analytics etl` first")
    if exists:
        from aico.keyset.analytics_rotation import settle_analytics

        settle_analytics(settings)  # a key rotation cut short is settled first (nothing to do when none was)
    key = load_key(settings, KEY_NAME, create=create and not exists, env_var=KEY_ENV)
    cfg = settings.core.analytics
    try:
        private_dir(path.parent)
    except OSError as exc:
        raise StoreError(f"cannot make the folder of {path}: {exc.strerror}") from exc
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": cfg.memory_limit, "temp_directory": f"{path}.tmp",
    }
    if cfg.threads:
        config["threads"] = cfg.threads
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute(f"LOAD {_quote(str(httpfs_extension_path()))}")
        con.execute("SET temp_file_encryption = true")
        con.execute("SET TimeZone = 'UTC'")
        # Row groups of 32k rows: a chunk's insert fills whole groups, written straight to the file, so
        # its commit is cheap (with the default 122,880, every partial group goes through the WAL).
        options = f"ENCRYPTION_KEY {_quote(key)}, ROW_GROUP_SIZE {ROW_GROUP_SIZE}"
        options += ", READ_ONLY" if read_only else ""
        try:
            con.execute(f"ATTACH {_quote(str(path))} AS {CATALOG} ({options})")
        except duckdb.Error as exc:
            raise translate(exc, path) from exc
        con.execute(f"USE {CATALOG}")
        try:
            yield con
        except duckdb.Error as exc:  # a failed write (disk full, read-only) is the database's error, not a bug
            raise translate(exc, path) from exc
    finally:
        con.close()
