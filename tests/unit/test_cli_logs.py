"""`aico logs` commands run in-process through `main()`: filters, formats, views, export, sql, rm, errors.

Records carry fixed timestamps on purpose, and every time bound is given explicitly (``--since``,
``--before``); ``make test-clock`` runs this module with the clock a year off either way.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aico.cli.main import main
from aico.cli.output import FIELDS
from aico.config import Settings
from aico.schema import normalize
from aico.store import LogStore

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)

STACK = 'Traceback (most recent call last):\n  File "svc.py", line 3, in run\nTimeoutError: model timed out'


def record(i: int, **over: object) -> dict:
    base = {
        "timestamp": f"2026-11-21T04:{i:02d}:00Z", "level": ("INFO", "WARNING", "ERROR", "DEBUG")[i % 4],
        "subsystem": ("backend", "frontend")[i % 2], "module": ("backend.api", "frontend.chat")[i % 2],
        "function": "handle", "file": "/srv/app/api.py", "line": i, "topic": "api/request",
        "message": f"request {i} failed: model timeout" if i % 4 == 2 else f"request {i} ok",
        "trace_id": f"trace-{i % 3}", "origin": ("backend", "frontend")[i % 2], "extra": {"n": i},
        "error_details": {"type": "TimeoutError", "message": "model timed out", "stack": STACK} if i % 4 == 2 else None,
    }
    return normalize({**base, **over})


@pytest.fixture
def store(settings: Settings) -> Iterator[Settings]:
    with LogStore.open(settings, writer=True) as s:
        s.insert_batch([record(i) for i in range(24)])
    yield settings


def aico(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
         stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["aico", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store: Settings):
    def call(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return aico(monkeypatch, capsys, *args, stdin=stdin)
    return call


def test_ls_keeps_its_old_options_newest_last(run) -> None:
    """`ls -n N -p LEVEL -o json` still lists the newest N at that level and above, newest last."""
    code, out, _ = run("logs", "ls", "-n", "3", "-p", "warning", "-o", "json")
    rows = json.loads(out)
    assert code == 0
    assert [r["line"] for r in rows] == [18, 21, 22]
    assert {r["level"] for r in rows} <= {"WARNING", "ERROR", "CRITICAL"}


def test_ls_query_filters_and_reverse(run) -> None:
    """QUERY is full-text; filters narrow; --reverse puts the newest first."""
    code, out, _ = run("logs", "ls", "timeout", "--module", "backend", "--since", "2026-11-21T04:05:00Z",
                       "--until", "2026-11-21T04:20:00Z", "-r", "-o", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["line"] for r in lines] == [18, 14, 10, 6]
    assert lines[0]["error_details"]["type"] == "TimeoutError"  # JSON fields come back as objects


@pytest.mark.parametrize(("fmt", "check"), [
    ("csv", lambda out: next(csv.reader(io.StringIO(out))) == list(FIELDS)),
    ("logfmt", lambda out: 'level=ERROR subsystem=backend module=backend.api message="request 22 failed' in out),
    ("raw", lambda out: out.splitlines() == ["request 18 failed: model timeout", "request 22 failed: model timeout"]),
    ("short", lambda out: "backend.api[E]: request 22 failed: model timeout" in out),
    ("pretty", lambda out: "ERROR    backend/backend.api:handle request 22" in out and "TimeoutError" in out),
])
def test_output_formats(run, fmt: str, check) -> None:
    """Every -o format prints the records; no colour codes when piped."""
    code, out, _ = run("logs", "ls", "-p", "error", "-n", "2", "-o", fmt, "--utc")
    assert code == 0 and check(out), out
    assert "\x1b[" not in out


@pytest.mark.parametrize(("args", "option"), [
    (["ls", "--since", "3x"], "--since"),
    (["ls", "-U", "yesterdayy"], "--until"),
    (["ls", "-p", "loud"], "--level"),
    (["ls", "--grep", "("], "--grep"),
    (["ls", "timeout AND"], "QUERY"),
    (["export", "x.jsonl", "-q", "NOT x"], "--query"),
    (["ls", "--limit", "0"], "'--limit'"),
    (["ls", "-o", "xml"], "'--output'"),
    (["stats", "--by", "week"], "'--by'"),
    (["export", "x.txt"], "--format"),
])
def test_bad_option_values_are_one_line_naming_the_option(run, args: list[str], option: str) -> None:
    """A bad value is exit status 2 and a single stderr line that names the option."""
    code, _, err = run("logs", *args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("aico: error: ") and option in err, err


def test_count_with_filters(run) -> None:
    """count counts all records, or those a filter selects."""
    assert run("logs", "count")[1] == "24\n"
    assert run("logs", "count", "-p", "error", "--origin", "backend")[1] == "6\n"
    assert run("logs", "count", "-g", "REQUEST")[1] == "0\n"  # upper case in the pattern: case-sensitive


def test_show_prints_the_whole_record(run) -> None:
    """show: every field, extra, the error and its stack; -o json gives the one object."""
    code, out, _ = run("logs", "show", "3", "--utc")
    assert code == 0
    assert "request 2 failed: model timeout" in out and '"n": 2' in out
    assert "TimeoutError: model timed out" in out and 'File "svc.py", line 3, in run' in out
    code, out, _ = run("logs", "show", "3", "-o", "json")
    assert json.loads(out)["error_details"]["stack"] == STACK
    code, _, err = run("logs", "show", "999")
    assert code == 1 and "no record with id 999" in err


def test_trace_view_in_time_order_with_offsets(run, store: Settings) -> None:
    """trace: the trace's records across origins in time order, offsets from the first, errors counted."""
    with LogStore.open(store, writer=True) as s:  # a late frontend record, older than the rest
        s.insert_batch([record(0, timestamp="2026-11-21T03:59:30Z", trace_id="trace-2", origin="frontend",
                               message="button clicked")])
    code, out, _ = run("logs", "trace", "trace-2", "--utc")
    lines = out.splitlines()
    assert code == 0
    assert "9 records" in lines[0] and "origins backend, frontend" in lines[0] and "2 errors" in lines[0]
    assert "+    0.000s frontend" in lines[2] and "button clicked" in lines[2]
    assert "+  150.000s backend" in lines[3]
    code, out, _ = run("logs", "trace", "trace-2", "-o", "jsonl")
    stamps = [json.loads(line)["timestamp"] for line in out.splitlines()]
    assert stamps == sorted(stamps) and len(stamps) == 9


def test_stats_json(run) -> None:
    """stats --json: counts, error rate, groups, top error modules, size, recent rates."""
    code, out, _ = run("logs", "stats", "--by", "origin", "--json")
    facts = json.loads(out)
    assert code == 0
    assert (facts["records"], facts["errors"]) == (24, 6)
    assert {g["origin"]: g["errors"] for g in facts["groups"]} == {"backend": 6, "frontend": 0}
    assert facts["top_error_modules"] == [{"module": "backend.api", "errors": 6}]
    assert facts["size_bytes"] > 0 and set(facts["records_per_second"]) == {"1m", "15m", "1h"}
    code, out, _ = run("logs", "stats")
    assert code == 0 and "records: 24" in out and "modules with most errors" in out


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.parquet"])
def test_export_formats_from_the_extension(run, tmp_path: Path, name: str) -> None:
    """export writes every matching record, oldest first, in the file's format, readable by its owner only."""
    target = tmp_path / name
    code, _, err = run("logs", "export", str(target), "-p", "warning", "-q", "timeout OR ok")
    assert code == 0 and "exported 12 records" in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    if name.endswith(".jsonl"):
        lines = [json.loads(line)["line"] for line in target.read_text().splitlines()]
    elif name.endswith(".csv"):
        with target.open() as fh:
            lines = [int(r["line"]) for r in csv.DictReader(fh)]
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(target)
        assert table.schema.names == list(FIELDS)
        lines = table.column("line").to_pylist()
    assert lines == sorted(lines) and len(lines) == 12
    assert not list(tmp_path.glob(".*.part"))


def test_export_to_stdout_and_limit(run) -> None:
    """`export -` streams JSON Lines to standard output; --limit takes the oldest N."""
    code, out, _ = run("logs", "export", "-", "--limit", "2")
    assert code == 0 and [json.loads(line)["line"] for line in out.splitlines()] == [0, 1]


def test_sql_reads_and_refuses_writes(run) -> None:
    """sql runs a SELECT; a write is refused with a clear error and exit 2, and changes nothing."""
    code, out, _ = run("logs", "sql", "SELECT level, count(*) AS n FROM logs GROUP BY level ORDER BY level",
                       "-o", "jsonl")
    assert code == 0 and json.loads(out.splitlines()[0]) == {"level": "DEBUG", "n": 6}
    code, _, err = run("logs", "sql", "DELETE FROM logs")
    assert code == 2 and "only SELECT" in err
    code, _, err = run("logs", "sql", "WITH x AS (SELECT 1) DELETE FROM logs")
    assert code == 2 and "would write" in err
    assert run("logs", "count")[1] == "24\n"


def test_rm_asks_first_and_reports(run) -> None:
    """rm needs a filter (or --all), asks unless --yes, and says how many records it removed."""
    code, _, err = run("logs", "rm")
    assert code == 2 and "--all" in err
    code, out, _ = run("logs", "rm", "--before", "2026-11-21T04:10:00Z", "--utc", stdin="n\n")
    assert code == 1 and "Remove 10 records" in out and "nothing removed" in out
    code, out, _ = run("logs", "rm", "--older-than", "2026-11-21T04:10:00Z", "--utc", stdin="y\n")
    assert code == 0 and "removed 10 records" in out
    code, out, _ = run("logs", "rm", "-p", "error", "--yes")
    assert code == 0 and "removed 4 records" in out
    assert run("logs", "count")[1] == "10\n"


def test_tail_without_follow_is_the_newest_n(run) -> None:
    """tail -n N prints the newest N matching records, newest last, and ends."""
    code, out, _ = run("logs", "tail", "-n", "3", "-p", "error", "-o", "jsonl")
    assert code == 0 and [json.loads(line)["line"] for line in out.splitlines()] == [14, 18, 22]
