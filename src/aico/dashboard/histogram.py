"""The histogram: matching records per time bucket, stacked by level, over a time range.

Three ways to count, the cheapest that can answer: by level and time alone, index ranges
counted in one statement; with a full-text query, each match bucketed from the small
``(id, timestamp, level)`` index rather than its whole row; with other filters, rows grouped by
a timestamp prefix in SQL; with ``grep`` (a Python regex), rows read here, at most
``GREP_SCAN_LIMIT``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from aico.schema.levels import LEVELS
from aico.schema.timestamps import format_utc, parse_utc
from aico.store.filters import LogFilter, where_sql
from aico.store.layout import SOURCE
from aico.store.repository import LogStore

# Bucket widths of the histogram, in seconds: the smallest giving at most MAX_BUCKETS bars.
WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
MAX_BUCKETS = 120
# What SQL groups by (a prefix of the stored timestamp), for each width: the largest unit that divides it.
PREFIXES = ((86400, 10), (3600, 13), (60, 16), (1, 19))
GREP_SCAN_LIMIT = 200_000  # rows a grep histogram reads at most (grep runs in Python); past it: partial
# Holds what a bucket needs of a row (migration 0005_dashboard_indexes); a store not yet migrated goes without.
TIME_LEVEL_INDEX = "ix_logs_id_time_level"


def bucket_width(since: str, until: str) -> int:
    """The smallest width whose bars, aligned to it (the first starts at or before ``since``), number
    at most ``MAX_BUCKETS`` up to ``until``."""
    end = parse_utc(until)
    for width in WIDTHS:
        first = _bucket_start(parse_utc(since), width)
        if math.ceil((end - first).total_seconds() / width) <= MAX_BUCKETS:
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
        oldest = store.iter_rows(f"SELECT min(timestamp) AS t FROM {SOURCE} {where}", params)
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
        source = SOURCE
        if ranged.text_query is not None:  # driven by the index's matches, not by the time range's rows
            hint = ""
            if set(flt.conditions()) <= {"levels", "since", "until", "text"} and _has_index(store, TIME_LEVEL_INDEX):
                hint = f" INDEXED BY {TIME_LEVEL_INDEX}"  # SQLite would look each match up in the table
            source = f"logs_fts CROSS JOIN {SOURCE}{hint} ON logs.id = logs_fts.rowid"
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


def _has_index(store: LogStore, name: str) -> bool:
    rows = store.iter_rows("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name = ?", [name])
    return bool(next(rows)["n"])


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
    by_level = (f"SELECT b.lo AS k, l.level AS level, (SELECT count(*) FROM {SOURCE} WHERE logs.level = l.level "
                "AND logs.timestamp >= b.lo AND logs.timestamp < b.hi) AS n FROM b, l")
    total = (f"SELECT b.lo AS k, '*' AS level, (SELECT count(*) FROM {SOURCE} WHERE logs.timestamp >= b.lo "
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
    sql = f"SELECT timestamp, level, message FROM {SOURCE} WHERE {' AND '.join(conds)} ORDER BY id DESC LIMIT ?"
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
