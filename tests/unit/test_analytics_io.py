"""Around the ETL: the source reader, Parquet copy, read-only queries, the report, CLI and plugin."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from aico.analytics.connection import open_analytics
from aico.analytics.etl import run_etl
from aico.analytics.plugin import LogAnalyticsPlugin
from aico.analytics.query import run_query
from aico.analytics.report import build_report
from aico.backend import registry
from aico.config import Settings, load_settings
from aico.errors import QueryError, ReadOnlyQueryError
from aico.store.export import EXPORT_COLUMNS, SourceChunk
from aico.store.filters import LogFilter
from aico.store.repository import LogStore

import etl_data
from support import run_aico, wait_until

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


@pytest.fixture(autouse=True)
def one_duckdb_thread(env: dict[str, str]) -> None:
    """DuckDB on one thread in these tests: the data is small, and the suite shares two cores."""
    env["AICO_CORE__ANALYTICS__THREADS"] = "1"


def records_of(chunk: SourceChunk) -> list[dict[str, Any]]:
    return [dict(zip(EXPORT_COLUMNS, json.loads(r), strict=True)) for r in chunk.rows]


def test_iter_since_windows_filters_and_gaps(settings: Settings) -> None:
    """Windows of ids after the watermark, filters inside each window, gaps jumped, nothing twice."""
    etl_data.store_records(settings, etl_data.raw_records(250))
    with LogStore.open(settings, writer=True) as store:
        store.conn.execute("DELETE FROM log_rows WHERE id > 60 AND id <= 190")
    with LogStore.open(settings) as store:
        chunks = list(store.iter_since(10, chunk=50))
        assert [(c.after_id, c.last_id) for c in chunks] == [(10, 60), (190, 240), (240, 250)]
        records = [r for c in chunks for r in records_of(c)]
        assert [r["id"] for r in records] == [*range(11, 61), *range(191, 251)]
        assert set(records[0]) == set(EXPORT_COLUMNS)
        errors = list(store.iter_since(0, LogFilter(levels=("ERROR", "CRITICAL")), chunk=100))
        assert sum(c.scanned for c in errors) == 120
        assert {r["level"] for c in errors for r in records_of(c)} == {"ERROR", "CRITICAL"}
        assert list(store.iter_since(250, chunk=10)) == []


def test_parquet_copy_is_partitioned_and_kept_current(settings: Settings, tmp_path: Path) -> None:
    """``--parquet`` writes day partitions any engine reads; a later run rewrites only the days it touched."""
    raws = etl_data.raw_records(120)
    etl_data.store_records(settings, raws)
    out = tmp_path / "parquet"
    first = run_etl(settings, parquet_dir=out)
    assert first.parquet and first.parquet["full"]
    parts = sorted(p.name for p in (out / "logs").iterdir())
    assert parts == sorted({f"day={r['timestamp'][:10]}" for r in etl_data.kept(raws)})
    table = ds.dataset(out / "logs", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(etl_data.kept(raws))
    assert ds.dataset(out / "errors_by_module_day.parquet").to_table().num_rows > 0
    newest_day = max(parts)
    more = [r for r in etl_data.raw_records(30, start_seq=500) if f"day={r['timestamp'][:10]}" == newest_day]
    etl_data.store_records(settings, more)
    second = run_etl(settings, parquet_dir=out)
    assert second.parquet == {"directory": str(out), "full": False, "days_written": 1, "days_removed": 0}
    table = ds.dataset(out / "logs", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(etl_data.kept(raws + more))


def test_query_is_read_only(settings: Settings) -> None:
    """Queries read; writes, file access and settings changes are refused with clear errors."""
    etl_data.store_records(settings, etl_data.raw_records(40))
    run_etl(settings)
    result = run_query(settings, "SELECT level, count(*) AS n FROM logs GROUP BY level ORDER BY level")
    assert result.columns == ["level", "n"] and sum(n for _, n in result.rows) == len(
        etl_data.kept(etl_data.raw_records(40)))
    with pytest.raises(ReadOnlyQueryError, match="read-only"):
        run_query(settings, "DELETE FROM logs")
    with pytest.raises(QueryError, match="files"):
        run_query(settings, f"COPY logs TO '{settings.home / 'out.csv'}'")
    with pytest.raises(QueryError, match="no_such_table"):
        run_query(settings, "SELECT * FROM no_such_table")


def test_report_shows_trends_and_new_error_types(settings: Settings) -> None:
    """The report counts the period's errors per module and lists error types first seen in it."""
    raws = etl_data.raw_records(200)
    etl_data.store_records(settings, raws)
    run_etl(settings)
    report = build_report(settings, days=7)
    kept = etl_data.kept(raws)
    errors = sum(1 for r in kept if r["level"] in ("ERROR", "CRITICAL"))
    assert report["totals"]["period"]["records"] == len(kept)
    assert sum(m["errors"] for m in report["modules"]) == errors
    assert all(sum(m["daily"]) == m["errors"] for m in report["modules"])
    assert sum(t["occurrences"] for t in report["new_error_types"]) == errors
    assert report["last_run"]["loaded"] == len(kept) and report["watermark"] == len(raws)


@pytest.mark.e2e  # the aico CLI as processes: out of make check's fast tier
def test_cli_commands(env: dict[str, str], settings: Settings) -> None:
    """``aico analytics etl/query/report`` work from the shell, with the documented outputs and errors."""
    etl_data.store_records(settings, etl_data.raw_records(60))
    done = run_aico(env, "analytics", "etl", "--json")
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)["loaded"]
    assert loaded == len(etl_data.kept(etl_data.raw_records(60)))
    text = run_aico(env, "analytics", "etl")
    assert text.returncode == 0 and "0 loaded" in text.stdout
    as_csv = run_aico(env, "analytics", "query", "SELECT level, count(*) AS n FROM logs GROUP BY 1", "-o", "csv")
    assert sum(int(r["n"]) for r in csv.DictReader(io.StringIO(as_csv.stdout))) == loaded
    as_json = run_aico(env, "analytics", "query", "SELECT id, ts, day FROM logs ORDER BY id LIMIT 2", "-o", "json")
    first: dict[str, Any] = json.loads(as_json.stdout)[0]
    assert first["ts"].endswith("+00:00") and len(first["day"]) == 10
    table = run_aico(env, "analytics", "query", "SELECT count(*) AS n FROM logs")
    assert f"{loaded}" in table.stdout and "(1 rows)" in table.stdout
    refused = run_aico(env, "analytics", "query", "DROP TABLE logs")
    assert refused.returncode == 2 and refused.stderr.startswith("aico: error: analytics queries are read-only")
    report = run_aico(env, "analytics", "report")
    assert report.returncode == 0 and "Error trends per module" in report.stdout and "aico.llm.client" in report.stdout


@pytest.mark.e2e  # the aico CLI as a process
def test_missing_database_is_a_clear_error(env: dict[str, str]) -> None:
    """Querying before any ETL run says what to do."""
    result = run_aico(env, "analytics", "query", "SELECT 1")
    assert result.returncode == 1 and "run `aico analytics etl` first" in result.stderr


def test_the_schedule_ignores_a_wall_clock_stepped_back(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wall clock stepped a day back does not move the next ETL run a day on (the schedule is monotonic)."""
    import time

    monkeypatch.setenv("AICO_CORE__ANALYTICS__FIRST_RUN_DELAY_S", "600")
    plugin = LogAnalyticsPlugin(load_settings())
    plugin.start()
    try:
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() - 86400)
        assert 0 < plugin.status()["next_run_in_s"] <= 600
    finally:
        plugin.stop()


def test_plugin_runs_on_schedule(env: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """``log_analytics`` is registered and on by default, starts cheaply, runs the ETL, and stops."""
    assert "log_analytics" in settings.core.backend.plugins
    assert registry.factory("log_analytics") is not None
    etl_data.store_records(settings, etl_data.raw_records(30))
    monkeypatch.setenv("AICO_CORE__ANALYTICS__FIRST_RUN_DELAY_S", "0")
    plugin = LogAnalyticsPlugin(load_settings())
    plugin.start()
    try:
        wait_until(lambda: plugin.status()["runs"] >= 1, timeout=60, message="a scheduled ETL run")
        status = plugin.status()
        assert status["state"] == "running" and status["failures"] == 0, status
        assert status["last_run"]["loaded"] == len(etl_data.kept(etl_data.raw_records(30)))
        assert status["next_run_in_s"] > 3000
    finally:
        plugin.stop()
    assert plugin.status()["state"] == "stopped"


@pytest.mark.e2e  # the aico CLI as processes
def test_busy_database_is_a_clear_error(env: dict[str, str], settings: Settings) -> None:
    """While one process holds the database (a run in progress), another gets a one-line answer."""
    etl_data.store_records(settings, etl_data.raw_records(10))
    run_etl(settings)
    with open_analytics(settings):
        result = run_aico(env, "analytics", "etl")
    assert result.returncode == 1 and "in use by another process" in result.stderr, result.stderr
    assert run_aico(env, "analytics", "etl").returncode == 0
