"""What stays out of analytics: levels below the threshold, records outside the retention window."""

from __future__ import annotations

from datetime import datetime, timedelta

from aico.config.settings import Settings
from aico.schema.levels import at_least
from aico.schema.timestamps import format_utc
from aico.store.filters import LogFilter


def cutoff(settings: Settings, now: datetime) -> str:
    """The stored-timestamp text ``retention_days`` before ``now``: older records stay out."""
    return format_utc(now - timedelta(days=settings.core.analytics.retention_days))


def source_filter(settings: Settings, since: str) -> LogFilter:
    """The records analytics reads: at ``min_level`` or above, from ``since`` (a ``cutoff``) on."""
    return LogFilter(levels=tuple(at_least(settings.core.analytics.min_level)), since=since)
