"""Reading for the dashboard: a small pool of read-only store connections, and what the API shows.

libSQL holds the GIL while a statement runs, so the dashboard runs in a process of its own
(``process.py``), and its reads use a few connections (``POOL_SIZE``) rather than one per
request thread: each open costs a key derivation, and more readers than cores buy nothing.
Every connection is ``query_only``: nothing here writes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from aico.backend.status import read_status
from aico.config.settings import Settings
from aico.errors import StoreError
from aico.schema.levels import LEVELS
from aico.schema.timestamps import format_utc, parse_utc
from aico.store.filters import LogFilter, where_sql
from aico.store.ondisk import size_on_disk
from aico.store.repository import LogStore

POOL_SIZE = 3
# Bucket widths of the histogram, in seconds: the smallest giving at most MAX_BUCKETS bars.
WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
MAX_BUCKETS = 120
# What SQL groups by (a prefix of the stored timestamp), for each width: the largest unit that divides it.
PREFIXES = ((86400, 10), (3600, 13), (60, 16), (1, 19))
GREP_SCAN_LIMIT = 200_000  # rows a grep histogram reads at most (grep runs in Python); past it: partial
JSON_FIELDS = ("extra", "error_details")


class StorePool:
    """Up to ``size`` read-only ``LogStore`` connections, opened when first needed."""

    def __init__(self, settings: Settings, size: int = POOL_SIZE) -> None:
        self.settings = settings
        self._free: queue.LifoQueue[LogStore] = queue.LifoQueue()
        self._opened = 0
        self._size = size
        self._lock = threading.Lock()

    @contextmanager
    def store(self) -> Iterator[LogStore]:
        store = self._take()
        ok = False
        try:
            yield store
            ok = True
        finally:
            if ok:
                self._free.put(store)
            else:  # a failed statement may leave it in a bad state: open a fresh one next time
                store.close()
                with self._lock:
                    self._opened -= 1

    def _take(self) -> LogStore:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._opened < self._size
            if grow:
                self._opened += 1
        if not grow:
            return self._free.get(timeout=60)
        try:
            return LogStore.open(self.settings, writer=False)
        except BaseException:
            with self._lock:
                self._opened -= 1
            raise

    def close(self) -> None:
        while True:
            try:
                self._free.get_nowait().close()
            except queue.Empty:
                return


def record_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row for the page: ``extra`` and ``error_details`` parsed (kept as text if not JSON)."""
    out = dict(row)
    for name in JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            try:
                out[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                pass
    return out


# -- the histogram ---------------------------------------------------------------------------
def bucket_width(since: str, until: str) -> int:
    span = (parse_utc(until) - parse_utc(since)).total_seconds()
    for width in WIDTHS:
        if span / width <= MAX_BUCKETS:
            return width
    return WIDTHS[-1]


def _bucket_start(moment: datetime, width: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % width, UTC)


def histogram(store: LogStore, flt: LogFilter, *, now: datetime | None = None) -> dict[str, Any]:
    """Matching records per time bucket and level, over ``since``..``until`` (defaults: the oldest
    matching record, now). SQL counts per timestamp prefix (day, hour, minute or second, whichever
    divides the width) and level; the prefixes are folded into buckets here."""
    current = now or datetime.now(UTC)
    until = flt.until or format_utc(current)
    since = flt.since
    if since is None:
        conds, params = where_sql(flt)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        oldest = store.iter_rows(f"SELECT min(timestamp) AS t FROM logs {where}", params)
        since = next(oldest)["t"] or format_utc(current - timedelta(hours=1))
        since = min(since, format_utc(parse_utc(until) - timedelta(minutes=1)))
    width = bucket_width(since, until)
    length = next(n for unit, n in PREFIXES if width % unit == 0)
    ranged = replace(flt, since=since, until=until, limit=None)
    counts: dict[str, dict[str, int]] = {}
    partial = False
    groups: list[tuple[str, str, int]]
    first = _bucket_start(parse_utc(since), width)
    if set(flt.conditions()) <= {"levels", "since", "until"}:
        groups = _index_counts(store, ranged, first, width)
    elif flt.regex is None:
        conds, params = where_sql(ranged, text=False)
        source = "logs"
        if ranged.text_query is not None:  # driven by the index's matches, not by the time range's rows
            source = "logs_fts CROSS JOIN logs ON logs.id = logs_fts.rowid"
            conds.insert(0, "logs_fts MATCH ?")
            params.insert(0, ranged.text_query.to_fts5())
        sql = (f"SELECT substr(logs.timestamp, 1, {length}) AS k, logs.level AS level, count(*) AS n "
               f"FROM {source} WHERE {' AND '.join(conds)} GROUP BY k, logs.level")
        groups = [(row["k"], row["level"], row["n"]) for row in store.iter_rows(sql, params)]
    else:
        groups, partial = _grep_groups(store, ranged, length)
    for key, level, n in groups:
        start = _bucket_start(_prefix_time(key), width)
        slot = counts.setdefault(format_utc(start), dict.fromkeys(LEVELS, 0))
        slot[level] = slot.get(level, 0) + n
    buckets: list[dict[str, Any]] = []
    moment = first
    end = parse_utc(until)
    while moment < end:
        key = format_utc(moment)
        buckets.append({"start": key, "counts": counts.get(key) or dict.fromkeys(LEVELS, 0)})
        moment += timedelta(seconds=width)
    total = sum(sum(b["counts"].values()) for b in buckets)
    return {"since": since, "until": until, "width_s": width, "levels": list(LEVELS), "buckets": buckets,
            "total": total, "partial": partial}


def _index_counts(store: LogStore, flt: LogFilter, first: datetime, width: int) -> list[tuple[str, str, int]]:
    """Counts by level and time alone: one index range count per bucket and level, in one statement.

    Counting a range of the (level, timestamp) index steps over its entries in C, with no table
    row read and no value computed per row: on a million records about a tenth of the time of
    grouping by a timestamp prefix (bench/dashboard.py).
    """
    assert flt.since is not None and flt.until is not None
    edges: list[tuple[str, str]] = []
    moment = first
    end = parse_utc(flt.until)
    while moment < end:
        upper = moment + timedelta(seconds=width)
        edges.append((format_utc(max(moment, parse_utc(flt.since))), format_utc(min(upper, end))))
        moment = upper
    levels = list(flt.levels or LEVELS)
    # Every level wanted: the bucket's total comes from the timestamp index (one entry a record,
    # the cheapest count) and the usual level (INFO) is what the others leave of it; the rarer
    # levels are counted in the (level, timestamp) index. One statement: one snapshot, exact sums.
    remainder = "INFO" if len(levels) == len(LEVELS) else None
    counted = [lvl for lvl in levels if lvl != remainder]
    by_level = ("SELECT b.lo AS k, l.level AS level, (SELECT count(*) FROM logs WHERE logs.level = l.level "
                "AND logs.timestamp >= b.lo AND logs.timestamp < b.hi) AS n FROM b, l")
    total = ("SELECT b.lo AS k, '*' AS level, (SELECT count(*) FROM logs WHERE logs.timestamp >= b.lo "
             "AND logs.timestamp < b.hi) AS n FROM b")
    sql = ("WITH b(lo, hi) AS (SELECT value->>0, value->>1 FROM json_each(?)), "
           f"l(level) AS (SELECT value FROM json_each(?)) {by_level}" + (f" UNION ALL {total}" if remainder else ""))
    out: list[tuple[str, str, int]] = []
    rest: dict[str, int] = {}
    for row in store.iter_rows(sql, [orjson.dumps(edges).decode(), orjson.dumps(counted).decode()]):
        n = int(row["n"])
        if row["level"] == "*":
            rest[row["k"]] = rest.get(row["k"], 0) + n
        else:
            rest[row["k"]] = rest.get(row["k"], 0) - n
            if n:
                out.append((row["k"], row["level"], n))
    if remainder:
        out.extend((k, remainder, n) for k, n in rest.items() if n)
    return out


def _prefix_time(key: str) -> datetime:
    """The moment a timestamp prefix (``2026-11-21``, ``...T04``, ``...T04:05``, ``...T04:05:06``) starts."""
    if len(key) >= 19:  # a full timestamp (from _index_counts) or a second
        return parse_utc(key) if key.endswith("Z") else datetime.fromisoformat(key[:19]).replace(tzinfo=UTC)
    padded = key + "T00:00:00"[len(key) - 10:]
    return datetime.fromisoformat(padded).replace(tzinfo=UTC)


def _grep_groups(store: LogStore, flt: LogFilter, length: int) -> tuple[list[tuple[str, str, int]], bool]:
    """Counts of a search with ``grep``: the regex runs here, over at most ``GREP_SCAN_LIMIT`` rows."""
    assert flt.regex is not None
    conds, params = where_sql(flt)
    sql = f"SELECT timestamp, level, message FROM logs WHERE {' AND '.join(conds)} ORDER BY id DESC LIMIT ?"
    tally: dict[tuple[str, str], int] = {}
    scanned = 0
    for row in store.iter_rows(sql, [*params, GREP_SCAN_LIMIT + 1]):
        scanned += 1
        if scanned > GREP_SCAN_LIMIT:
            break
        if flt.regex.search(row["message"] or ""):
            key = (row["timestamp"][:length], row["level"])
            tally[key] = tally.get(key, 0) + 1
    return [(k, lvl, n) for (k, lvl), n in tally.items()], scanned > GREP_SCAN_LIMIT


# -- status and rejects ----------------------------------------------------------------------
CONSUMER_FIGURES = ("received", "stored", "duplicates", "rejected", "lag_ms")


def status(settings: Settings) -> dict[str, Any]:
    """What ``aico gateway status`` shows, from every backend's status file, and the store's size."""
    backends: dict[str, Any] = {}
    plugins: dict[str, Any] = {}
    try:
        files = sorted(p for p in settings.run_dir.glob("*.json") if not p.name.startswith("."))
    except OSError:
        files = []
    for path in files:
        current = read_status(settings, path.stem)
        if not current or "plugins" not in current:
            continue
        backends[path.stem] = {"running": current["running"], "pid": current.get("pid"),
                               "started_at": current.get("started_at"), "updated_at": current.get("updated_at")}
        for name, plugin in (current.get("plugins") or {}).items():
            state = plugin.get("state") if current["running"] else "stopped"
            plugins[name] = {**plugin, "state": state, "backend": path.stem}
    consumer = plugins.get("log_consumer", {})
    return {
        "running": any(b["running"] for b in backends.values()),
        "backends": backends,
        "plugins": plugins,
        "plugins_up": sorted(n for n, p in plugins.items() if p.get("state") == "running"),
        "consumer": {k: consumer.get(k) for k in CONSUMER_FIGURES},
        "store_bytes": size_on_disk(settings.database_path),
    }


def rejects(store: LogStore, *, limit: int, before: int | None) -> dict[str, Any]:
    """Bad payloads with their reason, newest first: the first bytes kept (as text, bytes not UTF-8 escaped),
    the whole payload's size and SHA-256."""
    where, params = ("WHERE id < ?", [before]) if before is not None else ("", [])
    rows = list(store.iter_rows(
        f"SELECT id, received_at, topic, payload, reason, size, sha256 FROM rejects {where} ORDER BY id DESC LIMIT ?",
        [*params, limit + 1]))
    more = len(rows) > limit
    out = []
    for row in rows[:limit]:
        payload = row["payload"]
        if isinstance(payload, bytes | bytearray | memoryview):
            raw = bytes(payload)
            text = raw.decode("utf-8", "backslashreplace")
            size = int(row["size"]) if row.get("size") is not None else len(raw)
            row = {**row, "payload": text, "payload_bytes": size, "truncated": size > len(raw)}
        out.append(row)
    return {"rejects": out, "next": out[-1]["id"] if more and out else None,
            "total": int(next(store.iter_rows("SELECT count(*) AS n FROM rejects"))["n"])}


def check_store(settings: Settings) -> None:
    if not settings.database_path.exists():
        raise StoreError(f"no log store at {settings.database_path} yet: the backend makes it at first start")
