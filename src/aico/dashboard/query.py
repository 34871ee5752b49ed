"""What the dashboard's API reads from a query string: the CLI's filters, under their own names.

The page's search bar sends exactly what ``aico logs ls`` takes (``q`` is its QUERY, the rest are
its filter options without the dashes: ``level``, ``since``, ``trace_id`` ...), read by the same
parsers (``parse_levels``, ``parse_time``, ``parse_text_query``, ``LogFilter``'s regex), so the
page and the CLI cannot disagree. A bad value is a ``QueryError`` whose ``field`` is the
parameter's name: the API answers 400 naming it and the page marks that input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aico.errors import QueryError
from aico.schema.timeexpr import parse_time
from aico.store.filters import LogFilter, parse_levels
from aico.store.search import Cursor
from aico.store.textquery import parse_text_query

TEXT_PARAMS = ("subsystem", "module", "topic", "function", "file", "trace_id", "session_id", "user_id", "origin")
FILTER_PARAMS = frozenset({"q", "level", "since", "until", "grep", "utc", *TEXT_PARAMS})
MAX_PARAM_CHARS = 4096


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise QueryError(f"{name}: expected true or false, got {value!r}", field=name)


def check_names(params: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Refuse a parameter the route does not know (a typo would otherwise widen the search silently)."""
    known = FILTER_PARAMS | set(allowed)
    for name, value in params.items():
        if name not in known:
            raise QueryError(f"{name}: unknown parameter (known: {', '.join(sorted(known))})", field=name)
        if len(value) > MAX_PARAM_CHARS:
            raise QueryError(f"{name}: longer than {MAX_PARAM_CHARS} characters", field=name)
        if "\x00" in value:
            raise QueryError(f"{name}: holds a NUL character", field=name)


def _field(name: str, exc: QueryError) -> QueryError:
    """The same message, with the CLI's option name (``--since: ...``) replaced by the parameter's."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    if sep and (head == name or head.startswith(("--", "QUERY"))):
        text = rest
    return QueryError(f"{name}: {text}", field=name)


def build_filter(params: Mapping[str, str], *, allowed: Iterable[str] = ()) -> LogFilter:
    """A ``LogFilter`` from the query string, every value read as ``aico logs ls`` reads its options."""
    check_names(params, allowed)
    utc = _flag(params, "utc")
    values: dict[str, Any] = {}
    for name in TEXT_PARAMS:
        value = params.get(name, "").strip()
        values[name] = value or None
    query = params.get("q", "").strip() or None
    if query is not None:
        try:
            parse_text_query(query, "q")
        except QueryError as exc:
            raise _field("q", exc) from None
    try:
        levels = parse_levels(params.get("level"), "level")
    except QueryError as exc:
        raise _field("level", exc) from None
    times: dict[str, str | None] = {}
    for name in ("since", "until"):
        text = params.get(name, "").strip()
        try:
            times[name] = parse_time(text, option=name, utc=utc) if text else None
        except QueryError as exc:
            raise _field(name, exc) from None
    since, until = times["since"], times["until"]
    if since and until and since >= until:
        raise QueryError(f"until: must be after since ({until} is not after {since})", field="until")
    try:
        return LogFilter(levels=levels, since=since, until=until, text=query,
                         grep=params.get("grep") or None, **values)
    except QueryError as exc:
        raise _field("grep", exc) from None


def int_param(params: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name}: not a whole number: {text!r}", field=name) from None
    if not low <= value <= high:
        raise QueryError(f"{name}: must be between {low} and {high}, got {value}", field=name)
    return value


def flag_param(params: Mapping[str, str], name: str) -> bool:
    return _flag(params, name)


def encode_cursor(cursor: Cursor) -> str | None:
    """A page's cursor as the text the page sends back: ``id`` or ``timestamp~id``."""
    if cursor is None:
        return None
    if isinstance(cursor, tuple):
        return f"{cursor[0]}~{cursor[1]}"
    return str(cursor)


def decode_cursor(text: str | None, flt: LogFilter) -> Cursor:
    """The cursor ``encode_cursor`` made for a search of the same kind (by id for a full-text query)."""
    if not text:
        return None
    by_id = flt.text_query is not None
    stamp, sep, number = text.rpartition("~")
    try:
        row_id = int(number)
    except ValueError:
        raise QueryError(f"cursor: not a cursor this API gave out: {text!r}", field="cursor") from None
    if by_id != (not sep) or (sep and len(stamp) != 27):
        raise QueryError(f"cursor: belongs to another kind of search: {text!r}", field="cursor")
    return row_id if by_id else (stamp, row_id)
