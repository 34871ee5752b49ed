"""The analytics ETL: what lands in DuckDB, encryption, rollups, reruns, crashes, retention."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from aico.analytics import etl
from aico.analytics.connection import open_analytics
from aico.analytics.etl import run_etl
from aico.config import Settings, load_settings
from aico.errors import EncryptionKeyError, StoreError
from aico.schema.timestamps import format_utc
from aico.store.repository import LogStore

import etl_data
from support import home_env

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


@pytest.fixture(autouse=True)
def one_duckdb_thread(env: dict[str, str]) -> None:
    """DuckDB on one thread in these tests: the data is small, and the suite shares two cores."""
    env["AICO_CORE__ANALYTICS__THREADS"] = "1"


SMALL = {"AICO_CORE__ANALYTICS__CHUNK_SIZE": "100", "AICO_CORE__ANALYTICS__PROMOTE_MIN_RECORDS": "20"}


@pytest.fixture
def asettings(env: dict[str, str], settings: Settings) -> Settings:
    """Small chunks (several transactions per run) and promotion thresholds that fit the test data."""
    env.update(SMALL)
    return load_settings(env=env)


def rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with open_analytics(settings, read_only=True) as con:
        return con.execute(sql).to_arrow_table().to_pylist()  # type: ignore[no-any-return]


def rollups(settings: Settings) -> dict[str, Any]:
    ts = format_utc
    return {
        "errors_by_module_day": {
            (r["day"].isoformat(), r["subsystem"], r["module"]):
                (r["records"], r["warnings"], r["errors"], r["criticals"])
            for r in rows(settings, "SELECT * FROM errors_by_module_day")},
        "records_by_level_hour": {
            (ts(r["hour"])[:13], r["level"]): r["records"]
            for r in rows(settings, "SELECT * FROM records_by_level_hour")},
        "error_types_by_day": {
            (r["day"].isoformat(), r["error_type"], r["stack_hash"]): (r["occurrences"], ts(r["first_seen"]),
                                                                       ts(r["last_seen"]))
            for r in rows(settings, "SELECT * FROM error_types_by_day")},
    }


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]], etl.EtlResult]:
    """One home with the records stored and a first ETL run, made once: each test gets a copy of it."""
    env = home_env(tmp_path_factory.mktemp("etl") / "home", AICO_CORE__ANALYTICS__THREADS="1", **SMALL)
    settings = load_settings(env=env)
    raws = etl_data.raw_records() + etl_data.old_records()
    etl_data.store_records(settings, raws)
    return settings.home, raws, run_etl(settings)


@pytest.fixture
def loaded(asettings: Settings, loaded_home: tuple[Path, list[dict[str, Any]], etl.EtlResult]
           ) -> tuple[Settings, list[dict[str, Any]], etl.EtlResult]:
    """The test's own home holding a copy of the loaded one (its store, keys and analytics file)."""
    home, raws, result = loaded_home
    shutil.copytree(home, asettings.home, dirs_exist_ok=True)
    return asettings, raws, result


def test_records_are_typed_flattened_and_scrubbed(loaded: tuple[Settings, list[dict[str, Any]], Any]) -> None:
    """Kept records land once each: typed, flattened, promoted extras, pseudonymised ids, masked text."""
    settings, raws, result = loaded
    expected = etl_data.kept(raws)
    assert result.loaded == len(expected) and result.chunks > 3
    assert result.filtered == len(raws) - len(expected)  # DEBUG and the records outside retention
    got = {r["id"]: r for r in rows(settings, "SELECT * FROM logs")}
    assert len(got) == len(expected)
    key = (settings.keys_dir / "privacy.key").read_text().strip()
    by_seq = {r["seq"]: r for r in got.values()}
    for source in expected:
        row = by_seq[source["seq"]]
        assert format_utc(row["ts"]) == source["timestamp"]
        assert row["day"].isoformat() == source["timestamp"][:10]
        assert row["level_no"] == {"INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}[source["level"]]
        assert row["severity_bucket"] == {"INFO": "low", "WARNING": "medium", "ERROR": "high",
                                          "CRITICAL": "critical"}[source["level"]]
        assert row["user_id"] == (etl_data.pseudonym(key, source["user_id"]) if source["user_id"] else None)
        extra = json.loads(source["extra"])
        assert row["extra_duration_ms"] == extra["duration_ms"] and row["extra_status"] == extra["status"]
        assert row["extra_ok"] is extra["ok"] and row["extra_model"] == "m1"
        rest = json.loads(row["extra"]) if row["extra"] else {}
        assert set(rest) == set(extra) - {"duration_ms", "status", "ok", "model"}  # rare and mixed stay JSON
        if "password" in rest:
            assert rest["password"] == "[SECRET]"
        if source["error_details"]:
            err = json.loads(source["error_details"])
            assert (row["error_type"], row["error_message"]) == (err["type"], err["message"])
            assert row["stack_hash"] == etl_data.stack_hash(err["type"], err["message"], err["stack"])
        if etl_data.PRIVATE["email"] in source["message"]:
            assert row["message"] == "user [EMAIL] from [IP] paid with [CARD]"
        else:
            assert row["message"] == source["message"]
    types = {r["column_name"]: r["column_type"] for r in rows(settings, "DESCRIBE logs")}
    assert types["ts"] == "TIMESTAMP WITH TIME ZONE" and types["day"] == "DATE" and types["line"] == "INTEGER"
    assert (types["extra_duration_ms"], types["extra_status"], types["extra_ok"]) == ("DOUBLE", "BIGINT", "BOOLEAN")
    assert result.scrubbed["email"] == result.scrubbed["card"] == sum(
        1 for r in expected if etl_data.PRIVATE["email"] in r["message"])
    assert result.scrubbed["secret_field"] == sum(1 for r in expected if "password" in json.loads(r["extra"]))


def test_stack_hash_ignores_line_numbers_and_addresses(loaded: tuple[Settings, Any, Any]) -> None:
    """Errors differing only in line numbers, addresses and values share a stack hash; others do not."""
    settings = loaded[0]
    groups = rows(settings, "SELECT module, error_type, count(DISTINCT stack_hash) AS hashes, count(*) AS n "
                            "FROM logs WHERE stack_hash IS NOT NULL GROUP BY ALL")
    assert groups and all(g["hashes"] == 1 and g["n"] > 1 for g in groups)
    assert len({g["module"] + g["error_type"] for g in groups}) == len(
        rows(settings, "SELECT DISTINCT stack_hash FROM logs WHERE stack_hash IS NOT NULL"))


def test_file_holds_no_plaintext_and_needs_its_key(loaded: tuple[Settings, Any, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No record text is readable in the DuckDB files; without the right key it does not open."""
    settings = loaded[0]
    path = settings.analytics_path
    blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    assert len(blob) > 10_000
    for marker in etl_data.PLAINTEXT_MARKERS:
        assert marker.encode() not in blob, marker
    assert rows(settings, "SELECT count(*) AS n FROM logs WHERE module = 'aico.memory.consolidation'")[0]["n"] > 0
    with pytest.raises(duckdb.Error, match=r"without a key|encrypt"):
        duckdb.connect(str(path))
    monkeypatch.setenv("AICO_ANALYTICS_KEY", "not-the-key")
    with pytest.raises(EncryptionKeyError, match="wrong analytics key"), open_analytics(settings):
        pass
    monkeypatch.delenv("AICO_ANALYTICS_KEY")
    (settings.keys_dir / "analytics.key").unlink()
    with pytest.raises(EncryptionKeyError, match="no analytics key"), open_analytics(settings):
        pass


def test_rollups_match_the_source(loaded: tuple[Settings, list[dict[str, Any]], Any]) -> None:
    """Each rollup equals counts computed in Python from the source records."""
    settings, raws, _ = loaded
    assert rollups(settings) == etl_data.expected_rollups(etl_data.kept(raws))


def test_rerun_adds_nothing_and_new_records_are_counted_once(
        loaded: tuple[Settings, list[dict[str, Any]], Any]) -> None:
    """A second run loads nothing; later records are added and their days' rollups recomputed, not doubled."""
    settings, raws, first = loaded
    before = rollups(settings)
    again = run_etl(settings)
    assert (again.loaded, again.scanned, again.watermark_to) == (0, 0, first.watermark_to)
    assert rollups(settings) == before
    more = etl_data.raw_records(50, start_seq=1000)
    etl_data.store_records(settings, more)
    third = run_etl(settings)
    assert third.loaded == len(etl_data.kept(more))
    assert rollups(settings) == etl_data.expected_rollups(etl_data.kept(raws + more))
    assert rows(settings, "SELECT count(*) AS n FROM logs")[0]["n"] == len(etl_data.kept(raws + more))


def test_crash_mid_run_resumes_cleanly(asettings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after the first chunk keeps exactly that chunk; the next run finishes without duplicates."""
    raws = etl_data.raw_records()
    etl_data.store_records(asettings, raws)
    real, calls = etl.load_chunk, []

    def failing(*args: Any, **kwargs: Any) -> int:
        calls.append(args[1].last_id)
        if len(calls) == 2:
            raise RuntimeError("injected failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(etl, "load_chunk", failing)
    with pytest.raises(RuntimeError, match="injected"):
        run_etl(asettings)
    state = rows(asettings, "SELECT watermark FROM etl_state")[0]
    assert state["watermark"] == calls[0]
    assert rows(asettings, "SELECT max(id) AS m FROM logs")[0]["m"] <= calls[0]
    monkeypatch.setattr(etl, "load_chunk", real)
    resumed = run_etl(asettings)
    assert resumed.watermark_from == calls[0]
    expected = etl_data.kept(raws)
    assert rows(asettings, "SELECT count(*) AS n, count(DISTINCT id) AS d FROM logs")[0] == {
        "n": len(expected), "d": len(expected)}
    assert rollups(asettings) == etl_data.expected_rollups(expected)


def test_full_rebuild_gives_the_same_database(loaded: tuple[Settings, list[dict[str, Any]], Any]) -> None:
    """``--full`` starts over from the first record and ends where an incremental history ends."""
    settings, _, first = loaded
    before = rollups(settings), rows(settings, "SELECT * EXCLUDE (extra) FROM logs ORDER BY id")
    rebuilt = run_etl(settings, full=True)
    assert (rebuilt.mode, rebuilt.watermark_from, rebuilt.loaded) == ("full", 0, first.loaded)
    assert (rollups(settings), rows(settings, "SELECT * EXCLUDE (extra) FROM logs ORDER BY id")) == before


def test_retention_prunes_and_recomputes(loaded: tuple[Settings, list[dict[str, Any]], Any]) -> None:
    """Records that age out of the window leave logs and rollups; the cutoff day is recounted."""
    settings, raws, _ = loaded
    later = etl_data.base_time() + timedelta(days=90, hours=30)  # the cutoff falls inside the middle day
    result = run_etl(settings, now=later)
    remaining = etl_data.kept(raws, since=later - timedelta(days=90))
    assert 0 < len(remaining) < len(etl_data.kept(raws))
    assert result.pruned == len(etl_data.kept(raws)) - len(remaining)
    assert rollups(settings) == etl_data.expected_rollups(remaining)


def test_source_reset_needs_a_full_run(loaded: tuple[Settings, Any, Any]) -> None:
    """Rows deleted by retention are no reset; a recreated (smaller) log store is refused with advice."""
    settings = loaded[0]
    with LogStore.open(settings, writer=True) as store:
        store.conn.execute("DELETE FROM log_rows")
    assert run_etl(settings).loaded == 0  # ids are never reused: the watermark still holds
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.database_path}{suffix}").unlink(missing_ok=True)
    etl_data.store_records(settings, etl_data.raw_records(10))
    with pytest.raises(StoreError, match="--full"):
        run_etl(settings)
    assert run_etl(settings, full=True).loaded == len(etl_data.kept(etl_data.raw_records(10)))


def test_no_store_is_a_clear_error(settings: Settings) -> None:
    """Without a log store the ETL says so and creates nothing."""
    with pytest.raises(StoreError, match="no log store"):
        run_etl(settings)
    assert not settings.analytics_path.exists()


def test_invalid_rows_are_counted_not_fatal(asettings: Settings) -> None:
    """A stored row with an unreadable timestamp is left out and counted; the rest loads."""
    raws = etl_data.raw_records(40)
    etl_data.store_records(asettings, raws)
    with LogStore.open(asettings, writer=True) as store:
        store.conn.execute("UPDATE log_rows SET timestamp = 'not a time' WHERE id = 2")
        store.conn.execute("""UPDATE log_rows SET extra = '{"status": 1, "status": 2}' WHERE id = 4""")
        store.conn.execute("UPDATE log_rows SET extra = 'not json' WHERE id = 5")
    result = run_etl(asettings, now=datetime.now(UTC))
    assert raws[1]["level"] != "DEBUG" and result.invalid == 1
    assert result.loaded == len(etl_data.kept(raws)) - 1
    odd = {r["id"]: r for r in rows(asettings, "SELECT id, extra, extra_status FROM logs WHERE id IN (4, 5)")}
    assert odd[4]["extra"] == '{"status": 1, "status": 2}'  # duplicate keys: kept whole, nothing lost
    assert odd[5]["extra"] is None


def test_lost_pseudonym_key_needs_a_full_run(loaded: tuple[Settings, Any, Any]) -> None:
    """Without the pseudonym key, new records would not join with loaded ones: refused until --full."""
    settings = loaded[0]
    (settings.keys_dir / "privacy.key").unlink()
    with pytest.raises(EncryptionKeyError, match="no privacy key"):
        run_etl(settings)
    assert run_etl(settings, full=True).loaded == loaded[2].loaded
    assert (settings.keys_dir / "privacy.key").exists()
