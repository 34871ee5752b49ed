"""One filter, two evaluators: the store's SQL and the Python `matches` select the same records.

Records carry fixed timestamps on purpose: the filters compare them with explicit bounds, never with now.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aico.config import Settings
from aico.errors import QueryError
from aico.schema import normalize
from aico.store import LogStore
from aico.store.filters import LogFilter, matches, parse_levels, where_clause

LEVELS = ("DEBUG", "INFO", "INFO", "WARNING", "ERROR", "CRITICAL")
MODULES = ("backend.api.routes", "backend.api", "backend.apix", "frontend.ui.chat", "core.memory[1]")
MESSAGES = (
    "user signed in", "Connection reset by peer", "connection refused after retry", "timeout waiting for model",
    "Café menu loaded", "cache hit ratio 0.93", "user-42 asked: what's the weather?", "retry 3 of 5",
    "TIMEOUT in vector store", "snake_case_name resolved",
)


def sample(n: int = 90) -> list[dict]:
    return [normalize({
        "timestamp": f"2026-11-21T0{i // 30}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
        "level": LEVELS[i % len(LEVELS)],
        "subsystem": ("backend", "frontend", "core")[i % 3],
        "module": MODULES[i % len(MODULES)],
        "function": ("handle", "handle_request", "load")[i % 3],
        "file": ("/srv/app/api/routes.py", "src/ui/chat.ts", "memory.py")[i % 3],
        "topic": ("api/request", "ui/button/click", "memory.store")[i % 3],
        "message": MESSAGES[i % len(MESSAGES)] + f" #{i}",
        "trace_id": f"trace-{i % 7}",
        "session_id": f"s{i % 4}" if i % 2 else None,
        "user_id": f"u{i % 5}",
        "origin": ("backend", "frontend")[i % 2],
    }) for i in range(n)]


@pytest.fixture
def store(settings: Settings) -> Iterator[LogStore]:
    with LogStore.open(settings, writer=True) as s:
        s.insert_batch(sample())
        yield s


FILTERS = [
    LogFilter(),
    LogFilter(levels=parse_levels("warning")),
    LogFilter(levels=parse_levels("debug,error")),
    LogFilter(levels=parse_levels("info..error")),
    LogFilter(subsystem="front"),
    LogFilter(module="backend.api"),
    LogFilter(module="backend.api.*"),
    LogFilter(module="*.[!a]*"),
    LogFilter(module="core.memory[1]"),  # a glob: [1] is a set, so this is "core.memory1" (no match)
    LogFilter(module="core.memory[[]1]"),
    LogFilter(topic="ui/"),
    LogFilter(topic="*click"),
    LogFilter(function="handle"),
    LogFilter(function="handle*"),
    LogFilter(file="routes.py"),
    LogFilter(file="chat.ts"),
    LogFilter(file="*.ts"),
    LogFilter(file="memory.py"),
    LogFilter(file="y.py"),
    LogFilter(trace_id="trace-3"),
    LogFilter(session_id="s1"),
    LogFilter(user_id="u2", origin="frontend"),
    LogFilter(since="2026-11-21T01:00:00.000000Z"),
    LogFilter(since="2026-11-21T00:30:00.000000Z", until="2026-11-21T01:20:00.000000Z"),
    LogFilter(grep="timeout"),
    LogFilter(grep="TIMEOUT"),
    LogFilter(grep=r"#\d*5$"),
    LogFilter(text="timeout"),
    LogFilter(text="connection NOT refused"),
    LogFilter(text="conn* OR cache"),
    LogFilter(text='"reset by"'),
    LogFilter(text="cafe"),
    LogFilter(text="user-42"),
    LogFilter(text="snake"),
    LogFilter(text="retry", levels=parse_levels("info"), grep="after"),
    LogFilter(after_id=40, upto_id=70, module="backend"),
]


@pytest.mark.parametrize("flt", FILTERS, ids=[repr(f.conditions() or "all") for f in FILTERS])
def test_sql_and_python_select_the_same_records(store: LogStore, flt: LogFilter) -> None:
    """For each filter, the store's query and `matches` over every record agree exactly."""
    everything = list(store.search(LogFilter(), ascending=True))
    expected = {r["id"] for r in everything if matches(r, flt)}
    found = {r["id"] for r in store.search(flt)}
    assert found == expected
    assert store.count(flt) == len(expected)


def test_a_filter_never_pastes_values_into_sql() -> None:
    """Values travel as parameters: quotes in them are data, never SQL."""
    sql, params = where_clause(LogFilter(module="x' OR 1=1 --", trace_id="'; DROP TABLE logs; --", text="a"))
    assert "DROP" not in sql and "OR 1=1" not in sql
    assert "'; DROP TABLE logs; --" in params


def test_matches_works_on_records_never_stored() -> None:
    """`matches` takes a normalised record (no id), as archives hold them."""
    rec = normalize({"timestamp": "2026-11-21T04:00:00Z", "level": "ERROR", "module": "core.memory",
                     "function": "f", "topic": "t", "message": "Cache miss for user-7"})
    assert matches(rec, LogFilter(levels=("ERROR",), text="cache user-7", module="core", since="2026-11-21"))
    assert not matches(rec, LogFilter(text="cache NOT miss"))
    assert matches(rec, LogFilter(after_id=3))  # without an id, the id cursors do not apply


@pytest.mark.parametrize(("text", "levels"), [
    ("warning", ("WARNING", "ERROR", "CRITICAL")),
    ("WARN", ("WARNING", "ERROR", "CRITICAL")),
    ("error,debug", ("DEBUG", "ERROR")),
    ("info..error", ("INFO", "WARNING", "ERROR")),
    ("..info", ("DEBUG", "INFO")),
])
def test_levels_threshold_list_or_range(text: str, levels: tuple[str, ...]) -> None:
    """A level is a threshold; a comma list picks levels; a..b is a range (journalctl's -p)."""
    assert parse_levels(text) == levels


def test_bad_level_and_regex_name_the_option() -> None:
    """An unknown level or a broken regex is a QueryError naming the option."""
    with pytest.raises(QueryError, match=r"^--level: unknown level 'loud'"):
        parse_levels("loud")
    with pytest.raises(QueryError, match=r"^--level: the range 'error..info' holds no level"):
        parse_levels("error..info")
    with pytest.raises(QueryError, match=r"^--grep: not a regular expression"):
        LogFilter(grep="(")
