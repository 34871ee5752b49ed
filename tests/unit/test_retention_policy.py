"""The retention policy's day arithmetic and daily schedule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aico.config import Settings
from aico.retention.policy import MIB, Policy

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


def test_days_count_today_as_one(settings: Settings) -> None:
    """days=30 keeps today and the 29 days before it; hot_days=7 keeps today and the 6 before it."""
    p = Policy.from_settings(settings)
    now = datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)
    assert (p.days, p.hot_days) == (30, 7)
    assert p.keep_from(now) == "2026-10-23"
    assert p.hot_from(now) == "2026-11-15"


def test_sizes_come_from_config(settings: Settings) -> None:
    """The cap, the target under it, and the disk floor are in bytes from the MB settings."""
    p = Policy.from_settings(settings)
    assert p.max_size_bytes == 100 * MIB
    assert p.target_size_bytes == 90 * MIB
    assert p.min_free_bytes == 256 * MIB


def test_next_run_is_the_next_daily_time(settings: Settings) -> None:
    """The daily run is at run_at UTC: later today if not yet passed, else tomorrow."""
    p = Policy.from_settings(settings)
    assert p.next_run(datetime(2026, 11, 21, 1, 0, tzinfo=UTC)) == datetime(2026, 11, 21, 3, 30, tzinfo=UTC)
    assert p.next_run(datetime(2026, 11, 21, 3, 30, tzinfo=UTC)) == datetime(2026, 11, 22, 3, 30, tzinfo=UTC)
