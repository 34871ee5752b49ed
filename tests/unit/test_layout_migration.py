"""Migration 0006_dictionary: a store written by the layout of 0001..0005 comes over whole, in place."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aico.config import Settings
from aico.errors import StoreError
from aico.store import LogStore
from aico.store.filters import LogFilter, matches
from legacy_store import legacy_insert, legacy_rows, legacy_store


def record(i: int, **over: Any) -> dict[str, Any]:
    base = {"timestamp": f"2026-11-21T04:{i // 60 % 60:02d}:{i % 60:02d}.{i:06d}Z", "level": "INFO",
            "subsystem": "backend", "module": f"api.m{i % 3}", "function": "handle", "file": f"/srv/m{i % 3}.py",
            "line": i, "topic": "backend/api", "message": f"request {i} handled", "user_id": f"user-{i % 4}",
            "trace_id": f"{i % 5:032x}", "session_id": f"sess-{i % 2}", "error_details": None, "extra": None,
            "severity": None, "origin": "backend", "environment": "test", "producer_id": "p", "seq": i}
    return base | over


def old_rows(settings: Settings) -> list[dict[str, Any]]:
    with LogStore.open(settings) as store:
        return list(store.iter_rows("SELECT * FROM logs ORDER BY id"))


def test_a_store_of_the_old_layout_comes_over_whole(settings: Settings) -> None:
    """Every record reads back the same after the migration, odd text included; search, ids and dedup still hold."""
    conn = legacy_store(settings, "0005_dashboard_indexes")
    records = [record(i) for i in range(1, 41)]
    records.append(record(41, module="evil\0module", message="nul\0hidden zorbix", trace_id="not-hex\0x",
                          function=None, file=None, topic=None, user_id=None, session_id=None, producer_id=None,
                          seq=None, error_details=json.dumps({"type": "E"}), extra='{"k": 1}', severity="high"))
    records.append(record(42, message="ünïcode zorbix", subsystem="frontend", origin="frontend"))
    legacy_insert(conn, records)
    conn.execute("DELETE FROM logs WHERE id >= 40")  # deleted ids are never given again
    legacy_insert(conn, records[39:])
    conn.close()
    before = legacy_rows(settings)
    with pytest.raises(StoreError, match="older aico; start the backend once"):
        LogStore.open(settings)  # a reader cannot convert it: it says what will
    assert len(before) == 42 and before[-1]["id"] == 45

    with LogStore.open(settings, writer=True) as store:
        assert "0006_dictionary" in store.info()["migrations"]
        assert list(store.iter_rows("SELECT * FROM logs ORDER BY id")) == before
        assert [r["id"] for r in store.search(LogFilter(text="zorbix"), ascending=True)] == [44, 45]
        assert store.get(44)["message"] == "nul\0hidden zorbix" and store.get(44)["module"] == "evil\0module"
        assert [r["id"] for r in store.search(LogFilter(trace_id=f"{2:032x}"), ascending=True)] == [2, 7, 12, 17, 22,
                                                                                                   27, 32, 37, 45]
        for flt in (LogFilter(module="api.m1"), LogFilter(file="m2.py"), LogFilter(function="hand*"),
                    LogFilter(session_id="sess-0", subsystem="front"), LogFilter(user_id="user-3", origin="backend")):
            assert store.count(flt) == sum(1 for r in before if matches(r, flt)) > 0, flt
        assert store.last_issued_id() == 45
        assert store.insert_batch(records[:2]).duplicates == 2  # (producer_id, seq) still unique
        assert store.insert_batch([record(99)]).stored == 1
        assert store.max_id() > 45
    assert old_rows(settings)[:-1] == before


def test_an_empty_old_store_keeps_its_id_watermark(settings: Settings) -> None:
    """A store whose records were all deleted still never hands out an id it gave before."""
    conn = legacy_store(settings, "0005_dashboard_indexes")
    legacy_insert(conn, [record(i) for i in range(1, 8)])
    conn.execute("DELETE FROM logs")
    conn.close()
    with LogStore.open(settings, writer=True) as store:
        assert store.count() == 0 and store.last_issued_id() == 7
        store.insert_batch([record(8)])
        assert store.max_id() == 8


def test_the_view_reads_like_the_old_table(settings: Settings) -> None:
    """A person's SQL sees the record's columns under logs; names and ids are stored once."""
    store = LogStore.open(settings, writer=True)
    store.insert_batch([record(i) for i in range(1, 21)])
    cols, rows = store.query("SELECT module, count(*) AS n FROM logs GROUP BY module ORDER BY module")
    assert cols == ["module", "n"] and list(rows) == [("api.m0", 6), ("api.m1", 7), ("api.m2", 7)]
    assert store.query("SELECT count(*) FROM ids")[1].__next__() == (4 + 5 + 2,)
    names = [r[0] for r in store.query("SELECT text FROM names ORDER BY text")[1]]
    assert names.count("api.m1") == 1 and "handle" in names
    store.close()


def test_a_batch_that_rolls_back_leaves_no_dangling_reference(settings: Settings) -> None:
    """Names first seen in a batch that fails are forgotten with it: the next batch stores them again, whole."""
    with LogStore.open(settings, writer=True) as store:
        bad = [record(1, module="fresh.module", trace_id="fresh-trace"), record(2, level=None)]
        with pytest.raises(StoreError, match="NOT NULL"):
            store.insert_batch(bad)
        assert store.query("SELECT count(*) FROM names WHERE text = 'fresh.module'")[1].__next__() == (0,)
        assert store.insert_batch([record(1, module="fresh.module", trace_id="fresh-trace")]).stored == 1
        got = list(store.search(LogFilter(trace_id="fresh-trace")))
        assert [(r["module"], r["trace_id"]) for r in got] == [("fresh.module", "fresh-trace")]


def test_a_malformed_batch_text_is_a_clear_error(settings: Settings) -> None:
    """Rows handed over as text must be a JSON array of full rows; anything else is refused by name."""
    with LogStore.open(settings, writer=True) as store:
        for text in (b"not json", b'{"a": 1}', b"[[1, 2]]"):
            with pytest.raises(StoreError, match="not a JSON array of rows"):
                store.insert_batch(text)
        assert store.count() == 0
