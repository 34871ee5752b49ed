"""Which records a reader wants: one filter model, turned into parameterised SQL or checked in Python.

``LogFilter`` is what ``aico logs`` (and any other reader) asks for. ``where_sql`` turns it into
a WHERE clause with ``?`` parameters only (no value is ever pasted into SQL); ``matches`` applies
the very same filter to a record in Python, for records that are not in the database (archives).

Name filters (subsystem, module, topic) match a prefix, or a glob when the value holds ``*``,
``?`` or ``[``; function matches exactly or by glob; file matches the path, its tail after a
``/`` (``repository.py``), or a glob. ``since`` is inclusive, ``until`` exclusive. ``grep`` is a
Python regular expression over the message, case-insensitive unless it holds an upper-case letter
(journalctl's rule). ``text`` is a full-text query (see ``textquery``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from aico.errors import QueryError, ValidationError
from aico.schema.levels import LEVELS, at_least, parse_level
from aico.store.layout import reference, stored
from aico.store.textquery import TextQuery, parse_text_query

GLOB_CHARS = frozenset("*?[")
NAME_FIELDS = ("subsystem", "module", "topic")
EXACT_FIELDS = ("trace_id", "session_id", "user_id", "origin")


@dataclass(frozen=True, kw_only=True)
class LogFilter:
    """A search over stored records; every field narrows it, ``None`` (or empty) means any."""

    levels: tuple[str, ...] = ()
    subsystem: str | None = None
    module: str | None = None
    topic: str | None = None
    function: str | None = None
    file: str | None = None
    trace_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    origin: str | None = None
    since: str | None = None  # stored-timestamp text, inclusive
    until: str | None = None  # stored-timestamp text, exclusive
    grep: str | None = None
    text: str | None = None
    after_id: int | None = None  # cursors of a follower: ids above this ...
    upto_id: int | None = None  # ... and at most this
    limit: int | None = None
    reverse: bool = False

    def __post_init__(self) -> None:
        if self.grep is not None:
            _ = self.regex  # compile now, so a bad pattern is an error before any query runs
        if self.text is not None:
            _ = self.text_query
        if self.limit is not None and self.limit < 0:
            raise QueryError(f"--limit: must be 0 or more, got {self.limit}")

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        if self.grep is None:
            return None
        flags = 0 if any(ch.isupper() for ch in self.grep) else re.IGNORECASE
        try:
            return re.compile(self.grep, flags)
        except re.error as exc:
            raise QueryError(f"--grep: not a regular expression: {exc}") from None
        except RecursionError:
            raise QueryError("--grep: not a regular expression: nested too deep") from None

    @cached_property
    def text_query(self) -> TextQuery | None:
        return None if self.text is None else parse_text_query(self.text)

    def conditions(self) -> dict[str, Any]:
        """The fields that narrow the search (cursors and paging left out), for messages."""
        skip = {"limit", "reverse", "after_id", "upto_id"}
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in skip and getattr(self, f.name) not in (None, ())}

    def is_everything(self) -> bool:
        return not self.conditions()


# -- reading what people type ----------------------------------------------------------------
def parse_levels(text: str | None, option: str = "--level") -> tuple[str, ...]:
    """``warning`` is a threshold (WARNING and above); ``debug,error`` a list; ``info..error`` a range."""
    if text is None or not text.strip():
        return ()
    try:
        if ".." in text:
            low, _, high = text.partition("..")
            floor = LEVELS[parse_level(low or "DEBUG")]
            ceiling = LEVELS[parse_level(high or "CRITICAL")]
            picked = tuple(name for name, n in LEVELS.items() if floor <= n <= ceiling)
            if not picked:
                raise QueryError(f"{option}: the range {text!r} holds no level")
            return picked
        if "," in text:
            names = {parse_level(part) for part in text.split(",") if part.strip()}
            return tuple(name for name in LEVELS if name in names)
        return tuple(at_least(text))
    except ValidationError as exc:
        raise QueryError(f"{option}: {exc.errors[0].message}") from None


# -- SQL ---------------------------------------------------------------------------------------
def _is_glob(value: str) -> bool:
    return any(ch in GLOB_CHARS for ch in value)


def _sql_glob(pattern: str) -> str:
    return pattern.replace("[!", "[^")  # SQLite negates a set with ^, fnmatch with !


def where_sql(flt: LogFilter, *, table: str = "logs", text: bool = True, id_column: str | None = None,
              unindexed: bool = False) -> tuple[list[str], list[Any]]:
    """The conditions of ``flt`` on ``table`` as SQL snippets and their parameters (``grep`` aside).

    ``table`` names a row of ``log_rows`` (``layout.SOURCE`` calls it ``logs``): names and ids
    are compared by their references, looked up once per statement.

    ``text=False`` leaves the full-text condition to the caller (a join); ``id_column`` is where
    the id cursors apply (the FTS5 rowid, when the caller joins through the index).
    ``unindexed`` keeps SQLite off the indexes of the filtered columns (a unary ``+`` on each), for
    a caller that walks an id range and only wants the rows of it filtered.
    """
    conds: list[str] = []
    params: list[Any] = []
    col = f"+{table}." if unindexed else f"{table}."
    id_col = id_column or f"{table}.id"
    if flt.levels:
        conds.append(f"{col}level IN ({', '.join('?' for _ in flt.levels)})")
        params.extend(flt.levels)
    for name in NAME_FIELDS:
        value = getattr(flt, name)
        if value:
            conds.append(f"{col}{stored(name)} IN (SELECT id FROM names WHERE text GLOB ?)")
            params.append(_sql_glob(value) if _is_glob(value) else value + "*")
    if flt.function:
        glob = _is_glob(flt.function)
        op = "IN (SELECT id FROM names WHERE text GLOB ?)" if glob else f"= {reference('function', '?')}"
        conds.append(f"{col}function_ref {op}")
        params.append(_sql_glob(flt.function))
    if flt.file:
        if _is_glob(flt.file):
            conds.append(f"{col}file_ref IN (SELECT id FROM names WHERE text GLOB ?)")
            params.append(_sql_glob(flt.file))
        else:
            conds.append(f"{col}file_ref IN (SELECT id FROM names WHERE text = ? OR text GLOB ?)")
            params.extend([flt.file, "*/" + flt.file])
    for name in EXACT_FIELDS:
        value = getattr(flt, name)
        if value:
            conds.append(f"{col}{stored(name)} = {reference(name, '?')}")
            params.append(value)
    if flt.since:
        conds.append(f"{col}timestamp >= ?")
        params.append(flt.since)
    if flt.until:
        conds.append(f"{col}timestamp < ?")
        params.append(flt.until)
    if flt.after_id is not None:
        conds.append(f"{id_col} > ?")
        params.append(flt.after_id)
    if flt.upto_id is not None:
        conds.append(f"{id_col} <= ?")
        params.append(flt.upto_id)
    if text and flt.text_query is not None:
        conds.append(f"{col}id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)")
        params.append(flt.text_query.to_fts5())
    return conds, params


def where_clause(flt: LogFilter, *, table: str = "logs") -> tuple[str, list[Any]]:
    conds, params = where_sql(flt, table=table)
    return ("WHERE " + " AND ".join(conds) if conds else ""), params


# -- Python ------------------------------------------------------------------------------------
def _name_matches(value: str | None, wanted: str) -> bool:
    if value is None:
        return False
    if _is_glob(wanted):
        return fnmatch.fnmatchcase(value, wanted.replace("[^", "[!"))
    return value.startswith(wanted)


def matches(record: Mapping[str, Any], flt: LogFilter) -> bool:
    """Whether ``record`` (a stored row or a normalised record) passes ``flt``; paging aside."""
    get = record.get
    if flt.levels and get("level") not in flt.levels:
        return False
    for name in NAME_FIELDS:
        wanted = getattr(flt, name)
        if wanted and not _name_matches(get(name), wanted):
            return False
    if flt.function:
        fn = get("function")
        if not (_name_matches(fn, flt.function) if _is_glob(flt.function) else fn == flt.function):
            return False
    if flt.file:
        path = get("file") or ""
        if _is_glob(flt.file):
            if not _name_matches(path, flt.file):
                return False
        elif not (path == flt.file or path.endswith("/" + flt.file)):
            return False
    for name in EXACT_FIELDS:
        wanted = getattr(flt, name)
        if wanted and get(name) != wanted:
            return False
    timestamp = get("timestamp") or ""
    if flt.since and timestamp < flt.since:
        return False
    if flt.until and timestamp >= flt.until:
        return False
    row_id = get("id")
    if row_id is not None:
        if flt.after_id is not None and row_id <= flt.after_id:
            return False
        if flt.upto_id is not None and row_id > flt.upto_id:
            return False
    if flt.regex is not None and not flt.regex.search(get("message") or ""):
        return False
    return flt.text_query is None or flt.text_query.matches(get("message"))
