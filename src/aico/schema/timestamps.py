"""Timestamps are stored as UTC ISO-8601 text with microseconds, so text order is time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def format_utc(dt: datetime) -> str:
    """``2026-11-21T04:32:49.123456Z``; a naive datetime is taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_epoch(seconds: float) -> str:
    return format_utc(datetime.fromtimestamp(seconds, tz=UTC))


def now_utc() -> str:
    return format_utc(datetime.now(UTC))


def normalize_timestamp(value: object) -> str:
    """Canonical text for an ISO-8601 string (any offset; naive is UTC) or epoch seconds.

    Raises ``ValueError`` with a reason for anything else.
    """
    if isinstance(value, str):
        if CANONICAL.match(value):
            return value
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return format_utc(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value[:64]!r}") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds, as JavaScript's Date.now() gives
            seconds /= 1000.0
        try:
            return from_epoch(seconds)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch timestamp out of range: {value!r}") from None
    raise ValueError(f"expected an ISO-8601 string or epoch seconds, got {type(value).__name__}")


def parse_utc(text: str) -> datetime:
    """The aware datetime of a stored timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
