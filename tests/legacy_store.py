"""Stores as older versions of aico left them: the migrations up to one, rows written the way they were.

The tests of a migration start from such a store; no test here runs the code of today on them
before the migration does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from aico.config import Settings
from aico.keys import load_key
from aico.schema.record import COLUMNS
from aico.store import migrations, wholetext
from aico.store.connection import Connection, open_database

# How 0001..0005 stored a batch: every column as given, into the table ``logs``.
LEGACY_INSERT_SQL = (
    f"INSERT INTO logs ({', '.join(COLUMNS)}) SELECT {', '.join(f'value->>{i}' for i in range(len(COLUMNS)))} "
    "FROM json_each(?) WHERE true ON CONFLICT DO NOTHING"
)


def legacy_store(settings: Settings, upto: str) -> Connection:
    """A new store with the migrations up to ``upto`` applied (and recorded), none after it."""
    key = load_key(settings, create=True)
    conn = open_database(settings.database_path, key, create=True)
    migrations.applied(conn)
    for name, statements in migrations.MIGRATIONS:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (name,))
        if name == upto:
            return conn
    raise ValueError(f"no migration {upto!r}")


def legacy_insert(conn: Connection, records: Iterable[Mapping[str, Any]]) -> None:
    """Store ``records`` (stored-shape dicts) as the old layout did."""
    rows = [[r.get(c) for c in COLUMNS] for r in records]
    conn.execute(LEGACY_INSERT_SQL, (orjson.dumps(rows).decode(),))


def legacy_rows(settings: Settings) -> list[dict[str, object]]:
    """Every record of an old-layout store, read as the readers of then did."""
    key = load_key(settings, "db", create=False)
    conn = open_database(settings.database_path, key, read_only=True)
    try:
        names, rows = wholetext.rows(conn, "SELECT * FROM logs ORDER BY id")
        return [dict(zip(names, row, strict=True)) for row in rows]
    finally:
        conn.close()
