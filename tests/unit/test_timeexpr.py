"""Time expressions for --since/--until: relative, absolute, named days, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aico.errors import QueryError
from aico.schema.timeexpr import parse_duration, parse_time
from aico.schema.timestamps import format_utc

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)

NOW = datetime(2026, 11, 21, 10, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(("text", "ago"), [
    ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
    ("3d", timedelta(days=3)), ("1w", timedelta(weeks=1)), ("1h30m", timedelta(minutes=90)),
    ("-2h", timedelta(hours=2)), ("2h ago", timedelta(hours=2)), (" 15M ", timedelta(minutes=15)),
])
def test_relative_times_count_back_from_now(text: str, ago: timedelta) -> None:
    """`2h` is two hours before now, as journalctl and logcli read it."""
    assert parse_time(text, now=NOW) == format_utc(NOW - ago)


def test_named_days_are_midnights() -> None:
    """today, yesterday and tomorrow are midnights (UTC here, with --utc); now is now."""
    assert parse_time("today", now=NOW, utc=True) == "2026-11-21T00:00:00.000000Z"
    assert parse_time("yesterday", now=NOW, utc=True) == "2026-11-20T00:00:00.000000Z"
    assert parse_time("tomorrow", now=NOW, utc=True) == "2026-11-22T00:00:00.000000Z"
    assert parse_time("now", now=NOW) == format_utc(NOW)


def test_named_days_follow_local_time_without_utc() -> None:
    """Without --utc, today is the local midnight, whatever the machine's zone."""
    local_midnight = datetime.combine(NOW.astimezone().date(), datetime.min.time()).astimezone()
    assert parse_time("today", now=NOW) == format_utc(local_midnight)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-21T04:00:00Z", "2026-11-21T04:00:00.000000Z"),
    ("2026-11-21T06:00:00+02:00", "2026-11-21T04:00:00.000000Z"),
    ("2026-11-21 04:00:00.25", "2026-11-21T04:00:00.250000Z"),
    ("2026-11-21", "2026-11-21T00:00:00.000000Z"),
])
def test_iso_times_with_utc_for_naive_ones(text: str, expected: str) -> None:
    """ISO-8601 with an offset keeps it; a naive one is UTC under --utc."""
    assert parse_time(text, utc=True) == expected


def test_naive_iso_time_is_local_without_utc() -> None:
    """A naive ISO time means local time unless --utc."""
    naive = datetime(2026, 11, 21, 4, 0, 0)
    assert parse_time("2026-11-21T04:00:00") == format_utc(naive.astimezone())


@pytest.mark.parametrize("text", ["3x", "", "yesterdayy", "2026-13-01", "h2", "1 fortnight"])
def test_bad_time_names_the_option(text: str) -> None:
    """Anything else is a QueryError naming the option, with the forms that work."""
    with pytest.raises(QueryError, match=r"^--since: cannot read .* as a time \(use 30s"):
        parse_time(text, option="--since")
    assert QueryError.exit_code == 2


def test_durations() -> None:
    """Durations accept sums of units and refuse anything else, naming the option."""
    assert parse_duration("1d12h") == timedelta(hours=36)
    with pytest.raises(QueryError, match=r"^--older-than: cannot read"):
        parse_duration("soon", "--older-than")
