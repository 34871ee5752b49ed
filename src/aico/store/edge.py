"""The store's edge: the one place where libSQL errors become the project's, and the one write transaction.

libSQL raises ``ValueError`` for everything (a locked file, a bad statement, a wrong key).
``mapped`` turns it into an ``aico.errors`` exception that says what the store was doing, the
cause kept (``raise ... from``); every statement of the store runs inside it or ``transaction``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from aico.errors import AicoError, EncryptionKeyError, QueryError, ReadOnlyQueryError, StoreError

Connection = Any  # libsql.Connection has no importable type
Kind = Literal["store", "query"]


def translate(exc: ValueError, what: str, kind: Kind = "store") -> AicoError:
    """The project's exception for a libSQL error met while doing ``what``."""
    text = str(exc)
    if kind == "query":
        if "readonly" in text or "not authorized" in text or "cannot modify" in text:  # the last: the view logs
            return ReadOnlyQueryError(f"refused: the statement would write ({text}); only reads are allowed")
        return QueryError(f"SQL: {text}")
    if "not a database" in text:
        return EncryptionKeyError(f"{what}: wrong encryption key (or not an aico database)")
    return StoreError(f"{what}: {text}")


@contextmanager
def mapped(what: str = "store error", kind: Kind = "store") -> Iterator[None]:
    """Run the block with libSQL's errors translated (see ``translate``)."""
    try:
        yield
    except ValueError as exc:
        raise translate(exc, what, kind) from exc


@contextmanager
def transaction(conn: Connection, what: str) -> Iterator[Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error ``ROLLBACK``, and libSQL's error translated."""
    with mapped(what):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except ValueError:
                pass  # the error that got us here is the one to report
            raise


def changes(conn: Connection) -> int:
    """Rows the last statement changed (not what its triggers, the full-text index, changed)."""
    return int(conn.execute("SELECT changes()").fetchall()[0][0])


def scalar(conn: Connection, sql: str, params: Sequence[Any] = (), what: str = "store error") -> Any:
    """The first column of the first row of ``sql``."""
    with mapped(what):
        return conn.execute(sql, params).fetchall()[0][0]


def column(conn: Connection, sql: str, params: Sequence[Any] = (), what: str = "store error") -> list[Any]:
    """The first column of every row of ``sql``."""
    with mapped(what):
        return [r[0] for r in conn.execute(sql, params).fetchall()]
