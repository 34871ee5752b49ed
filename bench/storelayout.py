"""The store's layout, today's beside the baseline's: bytes per record and the store's own queries.

Run by ``query.py`` once per side, each in a child process: the baseline's with its source first
on ``PYTHONPATH`` (``baseline.py``), so each child builds a store of the same ``--records``
realistic records (``corpus.py``) with its own code and times its own reads of it. Every query
here is one the CLI or the dashboard runs; each is timed on one read-only connection, warm.

    python bench/storelayout.py --records 100000 --home /tmp/x     (prints one JSON object)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aico.config import load_settings
from aico.dashboard.histogram import histogram
from aico.schema.levels import at_least
from aico.schema.timestamps import format_utc, parse_utc
from aico.store import LogStore
from aico.store.filters import LogFilter

from corpus import MODULES, generate


def p50_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm, as a second query finds the cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 3)


def build(env: dict[str, str], records: int) -> tuple[list[str], float]:
    settings = load_settings(env=env)
    traces: list[str] = []
    picker = random.Random(5)
    start = time.perf_counter()
    with LogStore.open(settings, writer=True) as store:
        chunk: list[dict[str, object]] = []
        for rec in generate(records):
            chunk.append(rec)
            if rec["trace_id"] and (not traces or traces[-1] != rec["trace_id"]) and picker.random() < 0.01:
                traces.append(str(rec["trace_id"]))
            if len(chunk) == 2000:
                store.insert_batch(chunk)
                chunk = []
        store.insert_batch(chunk)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return traces, time.perf_counter() - start


def breakdown(store: LogStore, records: int) -> dict[str, float]:
    """Bytes per record of each table and index (SQLite's dbstat), the biggest first."""
    rows = store.conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    return {name: round(size / records, 1) for name, size in rows if size / records >= 1}


def measure(env: dict[str, str], records: int, repeat: int) -> dict[str, object]:
    """Build the store (unless it is there: a later round) and time its queries."""
    settings = load_settings(env=env)
    out: dict[str, object] = {"records": records}
    traces_file = Path(env["AICO_HOME"]) / "traces.json"
    if not settings.database_path.exists():
        traces, seconds = build(env, records)
        traces_file.write_text(json.dumps(traces))
        size = sum(os.path.getsize(f"{settings.database_path}{s}") for s in ("", "-wal")
                   if os.path.exists(f"{settings.database_path}{s}"))
        out.update({"build_records_per_s": round(records / seconds), "store_bytes": size,
                    "bytes_per_record": round(size / records, 1)})
    traces = json.loads(traces_file.read_text())
    rng = random.Random(11)
    with LogStore.open(settings) as store:
        if "store_bytes" in out:
            out["breakdown"] = breakdown(store, records)
        facts = store.info()
        first = parse_utc(facts["oldest"])
        span = parse_utc(facts["newest"]) - first - timedelta(hours=1)

        def hour() -> tuple[str, str]:
            since = first + span * rng.random()
            return format_utc(since), format_utc(since + timedelta(hours=1))

        def window() -> object:
            since, until = hour()
            return list(store.search(LogFilter(levels=tuple(at_least("warning")), since=since, until=until,
                                               limit=100)))

        def day_histogram() -> object:
            since, _ = hour()
            return histogram(store, LogFilter(since=since, until=format_utc(parse_utc(since) + timedelta(days=1))))

        module = MODULES[3][1]
        queries: dict[str, Callable[[], object]] = {
            "trace": lambda: list(store.search(LogFilter(trace_id=rng.choice(traces)), ascending=True)),
            "window_warning_1h": window,
            "fulltext_common": lambda: list(store.search(LogFilter(text="consolidation", limit=100))),
            "fulltext_one_percent": lambda: list(store.search(LogFilter(text="quota", limit=100))),
            "fulltext_rare": lambda: list(store.search(LogFilter(text="user-193", limit=100))),
            "newest_page": lambda: list(store.search(LogFilter(limit=100))),
            "module_page": lambda: list(store.search(LogFilter(module=module, limit=100))),
            "session_page": lambda: list(store.search(LogFilter(session_id="sess-42", limit=100))),
            "count_errors": lambda: store.count(LogFilter(levels=("ERROR", "CRITICAL"))),
            "stats_by_module": lambda: store.stats(LogFilter(), by="module"),
            "histogram_day": day_histogram,
            "histogram_fulltext": lambda: histogram(store, LogFilter(text="quota")),
        }
        out["p50_ms"] = {name: p50_ms(fn, repeat if not name.startswith(("stats", "count")) else max(3, repeat // 8))
                         for name, fn in queries.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--home", required=True)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    env.update({"AICO_HOME": args.home, "AICO_CORE__SECURITY__KEYRING": "false"})
    print(json.dumps(measure(env, args.records, args.repeat)))


if __name__ == "__main__":
    main()
