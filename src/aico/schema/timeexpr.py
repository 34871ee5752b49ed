"""Time expressions people type after ``--since`` and ``--until`` (journalctl's conventions).

``30s``, ``15m``, ``2h``, ``3d``, ``1w`` (and sums such as ``1h30m``) mean that long ago;
``now``, ``today``, ``yesterday`` and ``tomorrow`` (midnight); an ISO-8601 date or date and time.
A time without an offset is local time, or UTC when the caller says so (``--utc``).
The result is a stored-timestamp text, so it compares directly with the ``timestamp`` column.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from aico.errors import QueryError
from aico.schema.timestamps import format_utc

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_RELATIVE = re.compile(r"-?\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+(?:ago)?")
HINT = "use 30s, 15m, 2h, 3d, 1w, an ISO-8601 date or time, now, today or yesterday"


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """``90s``, ``15m``, ``1h30m``, ``7d``, ``2w`` as a timedelta."""
    cleaned = text.strip().lower()
    if not cleaned or not re.fullmatch(r"(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+", cleaned):
        raise QueryError(f"{option}: cannot read {text!r} as a duration (use 30s, 15m, 2h, 3d or 1w)")
    try:
        return timedelta(seconds=sum(float(n) * UNITS[u] for n, u in _PART.findall(cleaned)))
    except OverflowError:
        raise QueryError(f"{option}: {text!r} is longer than any calendar holds") from None


def _as_aware(naive: datetime, utc: bool) -> datetime:
    """A wall-clock time as UTC, or as local time by the system's rules (DST included)."""
    return naive.replace(tzinfo=UTC) if utc else naive.astimezone()


def _midnight(day: date, utc: bool) -> datetime:
    return _as_aware(datetime.combine(day, time()), utc)


def parse_time(text: str, *, option: str = "time", now: datetime | None = None, utc: bool = False) -> str:
    """The stored-timestamp text of the moment ``text`` names; a ``QueryError`` naming ``option`` if none."""
    current = now or datetime.now(UTC)
    today = (current.astimezone(UTC) if utc else current.astimezone()).date()
    cleaned = text.strip().lower()
    named = {"now": current, "today": _midnight(today, utc),
             "yesterday": _midnight(today - timedelta(days=1), utc),
             "tomorrow": _midnight(today + timedelta(days=1), utc)}
    if cleaned in named:
        return format_utc(named[cleaned])
    try:
        if _RELATIVE.fullmatch(cleaned):
            body = cleaned.lstrip("-").removesuffix("ago")
            return format_utc(current - parse_duration(body, option))
        iso = text.strip()
        if iso.endswith(("Z", "z")):
            iso = iso[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise QueryError(f"{option}: cannot read {text!r} as a time ({HINT})") from None
        return format_utc(moment if moment.tzinfo is not None else _as_aware(moment, utc))
    except (OverflowError, ValueError):  # before year 1 or after 9999, once moved or put in UTC
        raise QueryError(f"{option}: {text!r} is outside the calendar (years 1 to 9999)") from None
