"""Text with a NUL byte (or another control character) is read whole and shown escaped on every read path.

libSQL's binding cuts a TEXT value at a NUL; a suffix after it must not hide from whoever reads the logs,
and no message may move the terminal's cursor or recolour it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator

import pytest

from aico.cli.main import main
from aico.config import Settings
from aico.schema import normalize
from aico.store import LogStore
from aico.store.filters import LogFilter

from support import stamp

pytestmark = pytest.mark.clock  # records stamped relative to now, read back with --since: run again shifted

MESSAGE = "user ok\x00 AND ADMIN PASSWORD RESET"
MODULE = "api\x00.evil"
ESC = "colour \x1b[2J\x1b[31mwiped\r"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings) -> Iterator:
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize({
            "timestamp": stamp(60), "level": "ERROR", "module": MODULE, "function": "f\x00g", "topic": "t",
            "message": MESSAGE, "trace_id": "tr\x00x", "extra": {"k": "v\x00w"},
            "error_details": {"type": "E", "message": "m\x00n", "stack": "s\x00t"}}),
            normalize({"timestamp": stamp(30), "level": "INFO", "module": "m", "function": "f", "topic": "t",
                       "message": ESC, "trace_id": "tr\x00x"})])

    def aico(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["aico", *args])
        with pytest.raises(SystemExit) as done:
            main()
        out, _ = capsys.readouterr()
        return int(done.value.code or 0), out

    yield aico


@pytest.mark.parametrize("fmt", ["pretty", "short", "raw", "csv"])
def test_people_formats_show_the_nul_escaped_and_the_text_after_it(run, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """ls in pretty, short, raw and csv: \\x00 shown, the suffix there, no raw control character at all."""
    code, out = run("logs", "ls", "-o", fmt, "--utc")
    assert code == 0
    assert "user ok\\x00 AND ADMIN PASSWORD RESET" in out
    assert "\\x1b[2J" in out and "wiped\\x0d" in out
    assert not any(c in out for c in "\x00\x1b\r")
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[0]["module"] == "api\\x00.evil"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "logfmt"])
def test_machine_formats_keep_the_text_whole_in_their_own_escape(run, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """JSON, JSON Lines and logfmt give the whole text back, the NUL written \\u0000."""
    code, out = run("logs", "ls", "-o", fmt)
    assert code == 0 and "\x00" not in out and "\x1b" not in out
    assert "\\u0000 AND ADMIN PASSWORD RESET" in out
    if fmt == "jsonl":
        first = json.loads(out.splitlines()[0])
        assert first["message"] == MESSAGE and first["module"] == MODULE and first["extra"] == {"k": "v\x00w"}
        assert first["error_details"]["stack"] == "s\x00t"


def test_show_trace_stats_and_sql_read_whole_and_show_escaped(run) -> None:  # type: ignore[no-untyped-def]
    """show, trace, stats and sql (table, csv, json) read past the NUL and escape it."""
    code, out = run("logs", "show", "1")
    assert code == 0 and "user ok\\x00 AND ADMIN PASSWORD RESET" in out and "api\\x00.evil" in out
    assert "m\\x00n" in out and "s\\x00t" in out and "\x00" not in out
    code, out = run("logs", "trace", "tr\x00x")
    assert code == 0 and "user ok\\x00 AND ADMIN" in out and "\x1b[2J" not in out
    code, out = run("logs", "stats", "--by", "module", "--since", "1d")
    assert code == 0 and "api\\x00.evil" in out and "\x00" not in out
    code, out = run("logs", "sql", "SELECT message, module FROM logs ORDER BY id")
    assert code == 0 and "user ok\\x00 AND" in out and "\x00" not in out and "\x1b" not in out
    code, out = run("logs", "sql", "SELECT message, message FROM logs ORDER BY id;", "-o", "csv")
    assert code == 0 and out.splitlines()[0] == "message,message:1" and "ADMIN PASSWORD RESET" in out
    code, out = run("logs", "sql", "SELECT id, message FROM logs ORDER BY id", "-o", "json")
    assert code == 0 and json.loads(out)[0]["message"] == MESSAGE


def test_the_repository_reads_text_whole(settings: Settings, run) -> None:  # type: ignore[no-untyped-def]
    """search, get, iter_rows and query give back the stored text past its NUL byte."""
    with LogStore.open(settings) as store:
        [first] = [r for r in store.search(LogFilter()) if r["level"] == "ERROR"]
        assert (first["message"], first["module"], first["trace_id"]) == (MESSAGE, MODULE, "tr\x00x")
        assert store.get(first["id"])["function"] == "f\x00g"  # type: ignore[index]
        assert [r["message"] for r in store.iter_rows("SELECT message FROM logs ORDER BY id")] == [MESSAGE, ESC]
        names, rows = store.query("SELECT message, 7 AS n, x'00ff' AS b, NULL AS z FROM logs ORDER BY id")
        assert names == ["message", "n", "b", "z"] and next(iter(rows)) == (MESSAGE, 7, b"\x00\xff", None)
