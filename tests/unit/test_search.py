"""Searching the store: order, keyset paging, the full-text index, deletes, stats and read-only SQL.

Records carry fixed timestamps on purpose: the figures asserted are computed from them, never from now.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from aico.config import Settings
from aico.errors import QueryError, ReadOnlyQueryError
from aico.schema import normalize
from aico.store import LogStore
from aico.store.filters import LogFilter, matches
from aico.store.textquery import parse_text_query
from legacy_store import legacy_insert, legacy_store

from support import examples


def rec(i: int, second: int, message: str = "", **over: object) -> dict:
    base = {"timestamp": f"2026-11-21T04:{second // 60:02d}:{second % 60:02d}Z", "level": "INFO", "module": "m",
            "function": "f", "topic": "t", "message": message or f"record {i}", "producer_id": "p", "seq": i}
    return normalize({**base, **over})


@pytest.fixture
def store(settings: Settings) -> Iterator[LogStore]:
    with LogStore.open(settings, writer=True) as s:
        yield s


def test_time_order_with_ties_survives_small_pages(store: LogStore) -> None:
    """Newest first by (timestamp, id), also when pages end in the middle of equal timestamps."""
    # Arrival order differs from time order, and five records share each second.
    store.insert_batch([rec(i, second=(i * 7) % 4) for i in range(20)])
    everything = sorted(store.search(LogFilter(), page=1000), key=lambda r: (r["timestamp"], r["id"]), reverse=True)
    paged = list(store.search(LogFilter(), page=3))
    assert [r["id"] for r in paged] == [r["id"] for r in everything]
    ascending = list(store.search(LogFilter(), ascending=True, page=4))
    assert [r["id"] for r in ascending] == [r["id"] for r in reversed(everything)]


def test_limit_counts_records_that_pass_grep(store: LogStore) -> None:
    """With --grep, the limit counts matching records, reading as many pages as it takes."""
    store.insert_batch([rec(i, i, "needle" if i % 10 == 0 else "hay") for i in range(100)])
    found = list(store.search(LogFilter(grep="needle", limit=4), page=7))
    assert len(found) == 4 and all(r["message"] == "needle" for r in found)
    assert [r["seq"] for r in found] == [90, 80, 70, 60]


def test_full_text_results_newest_arrival_first(store: LogStore) -> None:
    """A full-text search pages through the index newest arrival first, and honours id cursors."""
    store.insert_batch([rec(i, 59 - (i % 60), f"disk {'full' if i % 2 else 'ok'} {i}") for i in range(50)])
    found = [r["seq"] for r in store.search(LogFilter(text="full", limit=5), page=2)]
    assert found == [49, 47, 45, 43, 41]
    window = [r["seq"] for r in store.search(LogFilter(text="full", after_id=10, upto_id=20), ascending=True)]
    assert window == [11, 13, 15, 17, 19]


def test_migration_fills_the_index_from_existing_rows(settings: Settings) -> None:
    """A store made before 0002_fts gets its old messages indexed when the migration runs."""
    conn = legacy_store(settings, "0001_logs")
    legacy_insert(conn, [rec(1, 1, "legacy quokka"), rec(2, 2, "other")])
    conn.close()
    with LogStore.open(settings, writer=True) as store:
        assert [r["message"] for r in store.search(LogFilter(text="quokka"))] == ["legacy quokka"]
        assert "0002_fts" in store.info()["migrations"]


def test_index_lives_encrypted(store: LogStore, settings: Settings) -> None:
    """The full-text index is in the encrypted file: searchable, yet no term is readable on disk."""
    store.insert_batch([rec(i, i, f"zyzzyva marker {i}") for i in range(200)])
    assert store.count(LogFilter(text="zyzzyva")) == 200
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in settings.database_path.parent.iterdir() if p.is_file())
    assert b"zyzzyva" not in raw


def test_delete_removes_rows_and_their_index_entries(store: LogStore) -> None:
    """rm's delete works in chunks, with grep, and leaves nothing findable behind."""
    store.insert_batch([rec(i, i % 60, f"purge {'me' if i % 3 == 0 else 'not'} {i}") for i in range(30)])
    assert store.delete(LogFilter(text="purge", grep=r"\bme\b"), chunk=4) == 10
    assert store.count() == 20
    assert store.count(LogFilter(text="me")) == 0
    assert store.delete(LogFilter(upto_id=5), chunk=2) == 3  # ids 2, 3, 5 were left below 6


def test_stats_counts_errors_and_groups(store: LogStore) -> None:
    """stats: totals, error rate, groups in level order, modules by errors, oldest and newest."""
    levels = ["INFO", "INFO", "ERROR", "WARNING", "CRITICAL"]
    store.insert_batch([rec(i, i, level=levels[i % 5], module=f"mod{i % 2}") for i in range(10)])
    facts = store.stats(LogFilter(), by="level")
    assert (facts["records"], facts["errors"], facts["error_rate"]) == (10, 4, 0.4)
    assert [g["level"] for g in facts["groups"]] == ["INFO", "WARNING", "ERROR", "CRITICAL"]
    assert facts["top_error_modules"] == [{"module": "mod0", "errors": 2}, {"module": "mod1", "errors": 2}]
    assert (facts["oldest"], facts["newest"]) == ("2026-11-21T04:00:00.000000Z", "2026-11-21T04:00:09.000000Z")
    by_day = store.stats(LogFilter(levels=("ERROR",)), by="day")
    assert by_day["groups"] == [{"day": "2026-11-21", "records": 2, "errors": 2, "error_rate": 1.0}]
    with pytest.raises(QueryError, match=r"^--by"):
        store.stats(LogFilter(), by="week")


@pytest.mark.parametrize(("sql", "why"), [
    ("DELETE FROM logs", "only SELECT"),
    ("PRAGMA query_only=OFF", "only SELECT"),
    ("  /* hi */ UPDATE logs SET level='INFO'", "only SELECT"),
    ("SELECT 1; DELETE FROM logs", "one statement at a time"),
    ("WITH x AS (SELECT 1) DELETE FROM logs", "would write"),
    ("ATTACH 'other.db' AS o", "only SELECT"),
])
def test_sql_refuses_anything_that_writes(store: LogStore, settings: Settings, sql: str, why: str) -> None:
    """Only a single SELECT runs; writes are refused, on a query-only connection besides."""
    store.insert_batch([rec(1, 1)])
    with LogStore.open(settings) as reader:
        with pytest.raises(ReadOnlyQueryError, match=why):
            reader.query(sql)
        names, rows = reader.query("SELECT level, count(*) AS n FROM logs WHERE message LIKE ? -- ';'", ["record%"])
        assert (names, list(rows)) == (["level", "n"], [("INFO", 1)])
        with pytest.raises(QueryError, match=r"^SQL: no such table"):
            reader.query("SELECT * FROM nowhere")
    assert store.count() == 1


WORDS = ("alpha", "beta", "gamma", "delta", "alphabet", "béta", "gam")
MESSAGES = [" ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 1 + i % 5)) + f" n{i}" for i in range(60)]
term = st.sampled_from(WORDS) | st.sampled_from(WORDS).map(lambda w: w[:3] + "*") | st.sampled_from(
    ['"alpha beta"', '"beta gamma"', '"gamma del"*'])
query = st.recursive(term, lambda q: st.tuples(q, st.sampled_from([" ", " AND ", " OR ", " NOT "]), q).map(
    lambda t: f"({t[0]}{t[1]}{t[2]})"), max_leaves=5)


@hsettings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=query)
def test_fts5_and_python_agree_on_any_query(store: LogStore, text: str) -> None:
    """For generated queries, FTS5 in the store and the Python evaluator pick the same messages."""
    if store.count() == 0:
        store.insert_batch([rec(i, i, m) for i, m in enumerate(MESSAGES)])
    parse_text_query(text)
    found = {r["message"] for r in store.search(LogFilter(text=text))}
    assert found == {m for m in MESSAGES if matches({"message": m}, LogFilter(text=text))}


def test_reclaim_drops_deleted_rows_from_the_full_text_index(store: LogStore) -> None:
    """After a delete, reclaim merges the index: the deleted rows' entries go, the rest stay findable."""
    store.insert_batch([rec(i, i, f"keep {i}" if i % 10 == 0 else f"drop word{i} {i}") for i in range(600)])

    def index_bytes() -> int:
        return int(store.conn.execute("SELECT coalesce(sum(length(block)), 0) FROM logs_fts_data").fetchall()[0][0])

    full = index_bytes()
    assert store.delete(LogFilter(text="drop")) == 540
    assert index_bytes() > full  # FTS5 only adds delete markers
    store.reclaim()
    assert index_bytes() < full / 3
    assert store.count(LogFilter(text="keep")) == 60
    assert store.count(LogFilter(text="drop OR word5*")) == 0


@pytest.mark.parametrize(("sql", "why"), [
    ("SELECT writefile('{tmp}/leak', (SELECT group_concat(message, char(10)) FROM logs))", "writefile"),
    ("SELECT readfile('/etc/hostname')", "readfile"),
    ("SELECT * FROM fsdir('{tmp}')", "only the tables"),
    ("SELECT name FROM fsdir('{tmp}') AS f JOIN logs ON 1", "only the tables"),
    ("WITH f(x) AS (SELECT 1) SELECT \"WRITEFILE\"('{tmp}/leak', 'x') FROM f", "writefile"),
    ("SELECT load_extension('x')", "load_extension"),
    ("SELECT sqlite3mc_codec_data('cipher_salt')", "sqlite3mc_codec_data"),
    ("SELECT * FROM sqlite_dbpage", "only the tables"),
    ("SELECT * FROM pragma_function_list", "only the tables"),
    ("SELECT * FROM schema_migrations", "only the tables"),
    ("SELECT sha3_query('SELECT 1')", "sha3_query"),
])
def test_sql_allows_only_listed_functions_and_tables(store: LogStore, settings: Settings, tmp_path, sql: str,
                                                     why: str) -> None:
    """`aico logs sql` cannot touch files or other tables: an allow-list of functions and tables decides."""
    store.insert_batch([rec(1, 1, "secret text")])
    with LogStore.open(settings) as reader:
        with pytest.raises(ReadOnlyQueryError, match=why):
            reader.query(sql.format(tmp=tmp_path))
        allowed = ("SELECT upper(l.message), json_extract(l.extra, '$.a'), count(*) OVER () FROM logs l "
                   "JOIN logs_fts f ON f.rowid = l.id WHERE logs_fts MATCH 'secret' AND l.id IN "
                   "(SELECT value FROM json_each('[1]')) AND NOT EXISTS (SELECT 1 FROM rejects)")
        assert list(reader.query(allowed)[1]) == [("SECRET TEXT", None, 1)]
        assert list(reader.query("SELECT highlight(logs_fts, 0, '[', ']') FROM logs_fts "
                                 "WHERE logs_fts MATCH 'text'")[1]) == [("secret [text]",)]
    assert not (tmp_path / "leak").exists()
