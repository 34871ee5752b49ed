"""How records lie on disk: repeated strings stored once and referenced, the record's shape in a view.

A record has a dozen strings that repeat across millions of rows: its subsystem, module,
function, file, topic, origin, environment, producer and severity come from a few hundred
values; its user, trace and session ids from a few thousand. Each is stored once, in ``names``
(the few, searched by prefix and glob) or ``ids`` (the many, found by exact value), and the
row ``log_rows`` holds its small integer: on the realistic corpus (``bench/query.py``) that is
~150 bytes a record less in the table and a narrower module, trace, session and producer index.

The record's shape stays what people and archives know: ``logs`` is a view with the columns of
``schema.record.COLUMNS``, for a person's SQL, the full-text index's content and the readers
that need no index. The store's own filtered reads go to ``log_rows`` under the alias ``logs``
(``SOURCE``), compare the integer columns (``filters.where_sql``) and give the text back with
``decoded``.
"""

from __future__ import annotations

from aico.errors import StoreError
from aico.schema.record import COLUMNS
from aico.store.edge import Connection, mapped

TABLE = "log_rows"
SOURCE = f"{TABLE} AS logs"  # filtered reads: the table under the name the SQL speaks of
NAME_COLUMNS = ("subsystem", "module", "function", "file", "topic", "severity", "origin", "environment", "producer_id")
ID_COLUMNS = ("user_id", "trace_id", "session_id")
DICTIONARY = {**dict.fromkeys(NAME_COLUMNS, "names"), **dict.fromkeys(ID_COLUMNS, "ids")}
FIELDS = ("id", *COLUMNS)


def stored(column: str) -> str:
    """The column of ``log_rows`` that holds ``column``: its own, or its reference (``module_ref``)."""
    return f"{column.removesuffix('_id')}_ref" if column in DICTIONARY else column


def decoded(column: str, alias: str = "logs") -> str:
    """SQL giving ``column``'s value for a row of ``log_rows`` named ``alias``."""
    if column in DICTIONARY:
        return f"(SELECT text FROM {DICTIONARY[column]} WHERE id = {alias}.{stored(column)})"
    return f"{alias}.{column}"


def json_row(alias: str = "logs") -> str:
    """One JSON array per row, in ``FIELDS`` order (one text column is the cheapest to move and decode)."""
    return f"json_array({', '.join(decoded(c, alias) for c in FIELDS)})"


def stored_row(alias: str = "logs") -> str:
    """One JSON array per row in ``FIELDS`` order, names as their references: what a reader
    holding the few names (``dictionary.Texts``) turns into records for less than a subquery per
    name and row costs. Ids come as text: most of a page's are new to the reader, and a subquery
    each costs less than the statement that would fetch them."""
    return f"json_array({', '.join(decoded(c, alias) if c in ID_COLUMNS else f'{alias}.{stored(c)}' for c in FIELDS)})"


def reference(column: str, value: str) -> str:
    """SQL giving the reference of the text ``value`` (an SQL expression) for ``column``."""
    return f"(SELECT id FROM {DICTIONARY[column]} WHERE text = {value})"


def encoded(column: str, value: str) -> str:
    """SQL giving what ``log_rows`` stores for ``column`` whose text is ``value``."""
    return reference(column, value) if column in DICTIONARY else value


def remember_sql(values: dict[str, str], source: str, *, with_: str = "") -> list[str]:
    """Statements that add the dictionary values rows of ``source`` hold (``values``: column ->
    SQL of its text per row), so ``encoded`` finds every one of them. Run before the rows' insert.
    ``with_`` is a WITH clause that ``source`` may name."""
    out = []
    for table in ("names", "ids"):
        cols = [c for c in values if DICTIONARY.get(c) == table]
        if cols:
            texts = " UNION ".join(f"SELECT {values[c]} AS t FROM {source}" for c in cols)
            out.append(f"{with_}INSERT OR IGNORE INTO {table}(text) SELECT t FROM ({texts}) WHERE t IS NOT NULL")
    return out


TABLES_SQL = (
    "CREATE TABLE names (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    "CREATE TABLE ids (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    f"""
    CREATE TABLE {TABLE} (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        timestamp TEXT NOT NULL,
        level TEXT NOT NULL,
        subsystem_ref INTEGER NOT NULL,
        module_ref INTEGER NOT NULL,
        function_ref INTEGER,
        file_ref INTEGER,
        line INTEGER,
        topic_ref INTEGER,
        message TEXT,
        user_ref INTEGER,
        trace_ref INTEGER,
        session_ref INTEGER,
        error_details TEXT,
        extra JSON,
        severity_ref INTEGER,
        origin_ref INTEGER,
        environment_ref INTEGER,
        producer_ref INTEGER,
        seq INTEGER
    )
    """,
)
_VIEW_COLUMNS = ", ".join(f"{decoded(c, 'r')} AS {c}" for c in FIELDS)
VIEW_SQL = f"CREATE VIEW logs AS SELECT {_VIEW_COLUMNS} FROM {TABLE} AS r"
# The indexes of before, by the same names (the dashboard names one in INDEXED BY), on the
# references where the column is one.
INDEXES_SQL = (
    f"CREATE INDEX ix_logs_timestamp ON {TABLE}(timestamp)",
    f"CREATE INDEX ix_logs_level_timestamp ON {TABLE}(level, timestamp)",
    f"CREATE INDEX ix_logs_module_timestamp ON {TABLE}(module_ref, timestamp)",
    f"CREATE INDEX ix_logs_trace_id ON {TABLE}(trace_ref) WHERE trace_ref IS NOT NULL",
    f"CREATE INDEX ix_logs_session_id ON {TABLE}(session_ref) WHERE session_ref IS NOT NULL",
    f"CREATE UNIQUE INDEX ux_logs_producer_seq ON {TABLE}(producer_ref, seq) WHERE producer_ref IS NOT NULL",
    f"CREATE INDEX ix_logs_id_time_level ON {TABLE}(id, timestamp, level)",
)
# The full-text index keeps its content in the view (external content 'logs'), fed by the table.
TRIGGERS_SQL = (
    f"""
    CREATE TRIGGER logs_fts_insert AFTER INSERT ON {TABLE} BEGIN
        INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message);
    END
    """,
    f"""
    CREATE TRIGGER logs_fts_delete AFTER DELETE ON {TABLE} BEGIN
        INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
    END
    """,
    f"""
    CREATE TRIGGER logs_fts_update AFTER UPDATE OF message ON {TABLE} BEGIN
        INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
        INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message);
    END
    """,
)


def insert_sql(values: dict[str, str], source: str, *, conflict: str = "ON CONFLICT DO NOTHING",
               with_: str = "", where: str = "true", references: bool = False) -> str:
    """``INSERT INTO log_rows`` from ``source``, whose rows give each column's text by ``values``
    (column -> SQL; ``id`` optional). The dictionary values must be there (``remember_sql``), or
    ``values`` give references already (``references``)."""
    cols = [c for c in ("id", *COLUMNS) if c in values]
    target = ", ".join(stored(c) for c in cols)
    select = ", ".join(values[c] if references else encoded(c, values[c]) for c in cols)
    return f"{with_}INSERT INTO {TABLE} ({target}) SELECT {select} FROM {source} WHERE {where} {conflict}"


def require(conn: Connection, path: object) -> None:
    """Refuse, with what to do, a store a reader cannot read: one still in the layout before
    0006_dictionary (the writer converts it on its next start; readers never write)."""
    with mapped(f"cannot read {path}"):
        present = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (TABLE,)).fetchall()[0][0]
    if not present:
        raise StoreError(f"the log store at {path} is in the layout of an older aico; start the backend once "
                         "(aico backend start) to convert it in place")


def _convert_sql() -> tuple[str, ...]:
    """The statements that turn the table ``logs`` of migrations 0001..0005 into this layout."""
    values = {c: f"l.{c}" for c in FIELDS}
    return (
        *TABLES_SQL,
        *remember_sql({c: v for c, v in values.items() if c in DICTIONARY}, "logs AS l"),
        insert_sql(values, "logs AS l", conflict=""),
        # AUTOINCREMENT's high-water mark goes along: an id is never given twice (the ETL's watermark)
        f"INSERT INTO sqlite_sequence(name, seq) SELECT '{TABLE}', 0 WHERE NOT EXISTS "
        f"(SELECT 1 FROM sqlite_sequence WHERE name = '{TABLE}')",
        "UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'logs'), 0)) "
        f"WHERE name = '{TABLE}'",
        "DROP TABLE logs",  # its indexes and full-text triggers with it; logs_fts keeps its entries (same ids, text)
        VIEW_SQL,
        *INDEXES_SQL,
        *TRIGGERS_SQL,
    )


CONVERT_SQL = _convert_sql()
