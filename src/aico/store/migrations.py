"""Named schema migrations, each recorded in the same transaction that applies it."""

from __future__ import annotations

from aico.errors import StoreError
from aico.schema.timestamps import now_utc
from aico.store.connection import Connection
from aico.store.edge import mapped, transaction
from aico.store.layout import CONVERT_SQL

MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "0001_logs",
        (
            """
            CREATE TABLE logs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                timestamp TEXT NOT NULL,
                level TEXT NOT NULL,
                subsystem TEXT NOT NULL,
                module TEXT NOT NULL,
                function TEXT,
                file TEXT,
                line INTEGER,
                topic TEXT,
                message TEXT,
                user_id TEXT,
                trace_id TEXT,
                session_id TEXT,
                error_details TEXT,
                extra JSON,
                severity TEXT,
                origin TEXT,
                environment TEXT,
                producer_id TEXT,
                seq INTEGER
            )
            """,
            "CREATE INDEX ix_logs_timestamp ON logs(timestamp)",
            "CREATE INDEX ix_logs_level_timestamp ON logs(level, timestamp)",
            "CREATE INDEX ix_logs_module ON logs(module)",
            "CREATE INDEX ix_logs_trace_id ON logs(trace_id) WHERE trace_id IS NOT NULL",
            "CREATE INDEX ix_logs_session_id ON logs(session_id) WHERE session_id IS NOT NULL",
            "CREATE UNIQUE INDEX ux_logs_producer_seq ON logs(producer_id, seq) WHERE producer_id IS NOT NULL",
            """
            CREATE TABLE rejects (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at TEXT NOT NULL,
                topic TEXT,
                payload BLOB,
                reason TEXT NOT NULL
            )
            """,
        ),
    ),
    (
        # Full-text index over messages: external content (the text lives once, in logs), kept
        # current by triggers in the writer's own transaction, and filled from existing rows.
        # columnsize=0: results are ranked by time, never by bm25, so the sizes are not kept.
        # automerge=16 (FTS5's default is 4): the writer merges index segments less often, which
        # saved ~10% of insert CPU time in bench/store_insert.py; a search reads a few more segments.
        "0002_fts",
        (
            "CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='logs', content_rowid='id', columnsize=0)",
            "INSERT INTO logs_fts(logs_fts, rank) VALUES ('automerge', 16)",
            """
            CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN
                INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message);
            END
            """,
            """
            CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN
                INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
            END
            """,
            """
            CREATE TRIGGER logs_fts_update AFTER UPDATE OF message ON logs BEGIN
                INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message);
                INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message);
            END
            """,
            "INSERT INTO logs_fts(logs_fts) VALUES ('rebuild')",
        ),
    ),
    (
        "0003_archive_days",
        (
            # One row per day that went to an archive (or was restored from one): written in the
            # transaction of the day's first delete, so the store says where its rows went.
            """
            CREATE TABLE archive_days (
                day TEXT PRIMARY KEY,
                file TEXT,
                records INTEGER,
                sha256 TEXT,
                archived_at TEXT,
                pinned_until TEXT
            )
            """,
        ),
    ),
    (
        # A reject keeps a prefix of its payload with the whole payload's size and SHA-256, so a
        # run of garbage cannot fill the store; rejects stored before keep their first KiB.
        "0004_rejects_bounded",
        (
            "ALTER TABLE rejects ADD COLUMN size INTEGER",
            "ALTER TABLE rejects ADD COLUMN sha256 TEXT",
            "UPDATE rejects SET size = length(payload), payload = substr(payload, 1, 1024) "
            "WHERE length(payload) > 1024",
            "CREATE INDEX ix_rejects_received_at ON rejects(received_at)",
        ),
    ),
    (
        # For the dashboard's reads on a big store (bench/dashboard.py, 1,000,000 records):
        # - (module, timestamp) replaces (module): a module filter's newest page is found in the
        #   index alone (its ids sorted by time) instead of sorting every matching row (~400 ms -> ~30 ms);
        # - (id, timestamp, level): a full-text histogram buckets each match from this small index
        #   instead of reading the match's whole row (~240 ms -> ~80 ms). Ids only grow, so it is
        #   appended to at its end, the cheapest kind of index to keep.
        "0005_dashboard_indexes",
        (
            "CREATE INDEX ix_logs_module_timestamp ON logs(module, timestamp)",
            "DROP INDEX ix_logs_module",
            "CREATE INDEX ix_logs_id_time_level ON logs(id, timestamp, level)",
        ),
    ),
    (
        # Repeated strings stored once (layout.py): the table becomes log_rows, with references
        # into names and ids, and logs a view of the record's columns. One transaction, like every
        # migration: a kill at any point leaves the old layout or the new one, never half of each.
        "0006_dictionary",
        CONVERT_SQL,
    ),
]


def applied(conn: Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def migrate(conn: Connection) -> list[str]:
    """Apply what is missing, in order; returns the names applied now."""
    with mapped("cannot read the store's migrations"):
        done = set(applied(conn))
    known = {name for name, _ in MIGRATIONS}
    unknown = done - known
    if unknown:
        raise StoreError(f"the store has migrations this version does not know: {sorted(unknown)}; upgrade aico")
    now = []
    for name, statements in MIGRATIONS:
        if name in done:
            continue
        with transaction(conn, f"migration {name} failed"):
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,)).fetchall():
                continue  # another process applied it meanwhile: the empty transaction commits nothing
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)", (name, now_utc()))
        now.append(name)
    return now


def applied_readonly(conn: Connection) -> list[str]:
    """The applied migrations, without creating the bookkeeping table."""
    try:
        return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
    except ValueError:
        return []
