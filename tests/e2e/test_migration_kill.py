"""Migration 0006_dictionary killed at points through its one transaction: the store opens every time,
in the old layout or the new, with every record; the next start finishes the migration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from aico.config import Settings
from aico.keys import load_key
from aico.store import LogStore
from aico.store.connection import open_database
from aico.store.filters import LogFilter
from legacy_store import legacy_insert, legacy_rows, legacy_store

from support import stamp, wait_until

RECORDS = 30_000
# Start the migration in a child (a writer's open migrates), as the collector's writer does.
MIGRATE = "from aico.config import load_settings; from aico.store import LogStore; " \
          "LogStore.open(load_settings(), writer=True).close(); print('migrated')"


def legacy_records(n: int) -> list[dict[str, object]]:
    """``n`` records a second apart, the newest now (stamped relative to the clock, not a fixed day)."""
    return [{"timestamp": stamp(n - i),
             "level": ("INFO", "ERROR")[i % 2], "subsystem": "backend", "module": f"api.m{i % 40}",
             "function": "handle", "file": f"/srv/api/m{i % 40}.py", "line": i % 900, "topic": "backend/api",
             "message": f"request {i} handled for user-{i % 500} kestrel" if i % 7 == 0 else f"request {i} handled",
             "user_id": f"user-{i % 500}", "trace_id": f"{i // 20:032x}", "session_id": f"sess-{i % 300}",
             "error_details": None, "extra": None, "severity": None, "origin": "backend", "environment": "test",
             "producer_id": "legacy", "seq": i} for i in range(n)]


def wal(settings: Settings) -> int:
    try:
        return os.path.getsize(f"{settings.database_path}-wal")
    except FileNotFoundError:
        return 0


def snapshot(settings: Settings) -> tuple[int, list[str], int]:
    """(records, migrations applied, full-text matches) in whichever layout the store is: SQL that reads both."""
    key = load_key(settings, "db", create=False)
    conn = open_database(settings.database_path, key, read_only=True)
    try:
        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchall()[0][0])

        applied = [r[0] for r in conn.execute("SELECT name FROM schema_migrations").fetchall()]
        return one("SELECT count(*) FROM logs"), applied, one(
            "SELECT count(*) FROM logs_fts WHERE logs_fts MATCH 'kestrel'")
    finally:
        conn.close()


def test_migration_killed_at_points_loses_nothing(settings: Settings, env: dict[str, str], tmp_path: Path) -> None:
    """SIGKILL while the WAL grows past each threshold: old layout or new after each kill, never a record less."""
    conn = legacy_store(settings, "0005_dashboard_indexes")
    for start in range(0, RECORDS, 5000):
        legacy_insert(conn, legacy_records(RECORDS)[start:start + 5000])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    pristine = tmp_path / "pristine"
    shutil.copytree(settings.database_path.parent, pristine)
    kestrels = len([i for i in range(RECORDS) if i % 7 == 0])
    before = legacy_rows(settings)
    outcomes = []
    # The transaction's pages reach the WAL as it commits (~17 MB here): the kills fall before it, in
    # the middle of its writing, around its commit frame, and (the last) after the child is done.
    for threshold in (0, 256 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024, 1 << 40):
        shutil.rmtree(settings.database_path.parent)
        shutil.copytree(pristine, settings.database_path.parent)
        child = subprocess.Popen([sys.executable, "-c", MIGRATE], env=env, stdout=subprocess.PIPE, text=True)
        try:
            wait_until(lambda t=threshold, c=child: wal(settings) > t or c.poll() is not None, timeout=120,
                       message=f"the WAL past {threshold} bytes")
        finally:
            child.kill()
            child.wait()
            assert child.stdout is not None
            child.stdout.close()
        records, applied, found = snapshot(settings)
        assert (records, found) == (RECORDS, kestrels), f"killed past {threshold} bytes of WAL"
        outcomes.append("0006_dictionary" in applied)
    assert not outcomes[0] and outcomes[-1], outcomes
    with LogStore.open(settings, writer=True) as store:  # the next start migrates
        assert "0006_dictionary" in store.info()["migrations"]
        assert list(store.iter_rows("SELECT * FROM logs ORDER BY id")) == before
        assert store.count(LogFilter(text="kestrel")) == kestrels
