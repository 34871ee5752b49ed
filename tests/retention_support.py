"""Helpers for the retention tests: seed days of records, read back the database and archives."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aico.config import Settings
from aico.retention.archives import iter_archive_records
from aico.schema import normalize
from aico.store import LogStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a fixed day on purpose: these tests drive a ManualClock from it


def day_of(now: datetime, days_ago: int) -> str:
    return (now.date() - timedelta(days=days_ago)).isoformat()


def make_day(day: str, n: int, *, producer: str | None = "p1", first_seq: int = 0,
             message: str = "secret message") -> list[dict[str, Any]]:
    """``n`` records spread over ``day`` (UTC), each with a unique (producer, seq)."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    out = []
    for i in range(n):
        ts = start + timedelta(seconds=(i * 86_399) // max(n, 1), microseconds=i)
        raw: dict[str, Any] = {
            "timestamp": ts.isoformat(), "level": ("INFO", "WARNING", "ERROR")[i % 3], "module": f"mod.{i % 4}",
            "function": "f", "topic": "t", "message": f"{message} {day} #{first_seq + i}",
            "extra": {"i": first_seq + i, "day": day},
        }
        if producer is not None:
            raw.update(producer_id=producer, seq=first_seq + i)
        out.append(normalize(raw))
    return out


def seed(settings: Settings, records: list[dict[str, Any]]) -> None:
    with LogStore.open(settings, writer=True) as store:
        for i in range(0, len(records), 5000):
            store.insert_batch(records[i:i + 5000])


def seed_days(settings: Settings, now: datetime, days: int, per_day: int, **kw: Any) -> dict[str, list[dict[str, Any]]]:
    """Seed ``days`` days ending today with ``per_day`` records each; day -> its records."""
    by_day = {}
    seq = 0
    for ago in range(days):
        day = day_of(now, ago)
        by_day[day] = make_day(day, per_day, first_seq=seq, **kw)
        seq += per_day
    seed(settings, [r for recs in by_day.values() for r in recs])
    return by_day


def db_rows(settings: Settings) -> list[dict[str, Any]]:
    with LogStore.open(settings) as store:
        return list(store.iter_rows("SELECT * FROM logs ORDER BY timestamp, id"))


def archive_rows(settings: Settings) -> list[dict[str, Any]]:
    return list(iter_archive_records(settings))


def identity(row: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a record itself: every stored field but the id."""
    return tuple(sorted((k, v) for k, v in row.items() if k != "id"))


def union_counts(settings: Settings) -> Counter[tuple[Any, ...]]:
    """How often each record is held by the database and the archives together."""
    return Counter(identity(r) for r in [*db_rows(settings), *archive_rows(settings)])
