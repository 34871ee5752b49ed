"""Which days stay hot, which go to archives and which are deleted, for a given moment.

Days are UTC calendar days, the first ten characters of a stored timestamp. ``days`` and
``hot_days`` count today as one: with ``days=30`` the oldest day kept is today minus 29, so
no record older than 30 days is kept after a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from aico.config.settings import Retention, Settings

MIB = 1024 * 1024


def day_text(d: date) -> str:
    return d.isoformat()


def next_day(day: str) -> str:
    """The day after ``day`` (``YYYY-MM-DD``)."""
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class Policy:
    days: int
    hot_days: int
    max_size_bytes: int
    target_size_bytes: int
    min_free_bytes: int
    run_at: time
    chunk_rows: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls.from_config(settings.core.logging.retention)

    @classmethod
    def from_config(cls, cfg: Retention) -> Policy:
        hour, minute = (int(x) for x in cfg.run_at.split(":"))
        cap = int(cfg.max_size_mb * MIB)
        return cls(
            days=cfg.days, hot_days=cfg.hot_days, max_size_bytes=cap,
            target_size_bytes=cap * cfg.size_target_pct // 100,
            min_free_bytes=int(cfg.min_free_disk_mb * MIB), run_at=time(hour, minute),
            chunk_rows=cfg.delete_chunk_rows,
        )

    def keep_from(self, now: datetime) -> str:
        """The oldest day that is kept; every day before it is deleted, rows and archives."""
        return day_text(now.date() - timedelta(days=self.days - 1))

    def hot_from(self, now: datetime) -> str:
        """The oldest day that stays in the database; days before it are archived."""
        return day_text(now.date() - timedelta(days=self.hot_days - 1))

    def next_run(self, after: datetime) -> datetime:
        """The first scheduled daily run strictly after ``after`` (UTC)."""
        candidate = datetime.combine(after.date(), self.run_at, tzinfo=after.tzinfo)
        if candidate <= after:
            candidate += timedelta(days=1)
        return candidate
