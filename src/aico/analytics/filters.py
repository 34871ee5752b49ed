"""What stays out of analytics: levels below the threshold, records outside the retention window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aico.config.settings import Settings
from aico.schema.levels import at_least
from aico.schema.timestamps import format_utc


@dataclass(frozen=True)
class SourceFilter:
    levels: tuple[str, ...]
    since: str  # stored-timestamp text: records older than this stay out

    @classmethod
    def from_settings(cls, settings: Settings, now: datetime) -> SourceFilter:
        cfg = settings.core.analytics
        return cls(tuple(at_least(cfg.min_level)), format_utc(now - timedelta(days=cfg.retention_days)))
