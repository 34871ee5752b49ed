"""Fuzz campaign, the command line: hostile option values, query texts, configuration files, environment values
and key files. The property everywhere: an exit status and at most a one-line error, never a traceback."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aico.cli.main import main
from aico.config import Settings
from aico.errors import QueryError
from aico.schema import normalize
from aico.store import LogStore
from aico.store.textquery import parse_text_query
from hostile import config_texts, env_names, env_values, fuzz, good_record, key_bytes, nasty_text, option_values

# Marked clock (records stamped relative to now; --since and --until read the clock): every test but the two
# that only run `aico config show` on a hostile configuration, which reads no record and no date.
CLOCK = pytest.mark.clock

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings) -> Run:
    """``aico ARGS`` in this process against a small store: (exit status, stdout, stderr)."""
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize(good_record(i, producer_id="fz", seq=i + 1)) for i in range(20)])

    def call(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["aico", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        capsys.readouterr()
        try:
            main()
        except SystemExit as done:
            out, err = capsys.readouterr()
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            return code, out, err
        raise AssertionError("main() returned without an exit status")
    return call


def one_line_error(code: int, err: str, allowed: tuple[int, ...] = (0, 2)) -> None:
    assert "Traceback" not in err, err
    assert code in allowed, (code, err)
    if code:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines, "an error says why"
        # typer's usage errors come with a usage line and a hint; ours are one line
        assert len(lines) == 1 or lines[0].startswith("Usage:"), err


OPTIONS = ["--since", "--until", "--level", "--module", "--subsystem", "--topic", "--function", "--file",
           "--trace-id", "--session-id", "--origin", "--grep", "--limit", "--output"]


@CLOCK
@fuzz(examples=40)
@given(option=st.sampled_from(OPTIONS), value=option_values, command=st.sampled_from(["ls", "count", "stats"]))
def test_any_option_value(run: Run, option: str, value: str, command: str) -> None:
    """Any value of any filter option of `logs ls|count|stats`: results, or a one-line error with status 2."""
    if command != "ls" and option in ("--limit", "--output"):
        option = "--since"
    code, _, err = run("logs", command, f"{option}={value}")
    one_line_error(code, err)


@fuzz(examples=40)
@given(query=nasty_text)
def test_any_query_text(run: Run, query: str) -> None:
    """Any QUERY text: matches, or a one-line error with status 2 (never a traceback, never silence on a bad one)."""
    try:
        parse_text_query(query)
        valid = True
    except QueryError:
        valid = False
    code, _, err = run("logs", "ls", "-o", "jsonl", "--", query)
    one_line_error(code, err)
    assert (code == 0) == valid, (query, code, err)


@pytest.mark.parametrize("query", ['"unterminated', 'a "b', '"'])
def test_unterminated_phrase(run: Run, query: str) -> None:
    """A QUERY with an unterminated phrase is a one-line error with status 2."""
    code, _, err = run("logs", "ls", "--", query)
    one_line_error(code, err)
    assert code == 2


@CLOCK
@fuzz(examples=25)
@given(sql=st.one_of(nasty_text, st.sampled_from(
    ["SELECT", "select * from nope", "select 1;select 2", "PRAGMA key='x'", "ATTACH 'x' AS y",
     "delete from logs", "with x as (delete from logs) select 1", "select zeroblob(1e12)",
     "select randomblob(-1)", "select * from logs where message match '\"'", "select char(0)"])))
def test_any_sql_text(run: Run, sql: str) -> None:
    """Any text given to `logs sql`: rows, or a one-line error; nothing is ever written."""
    code, _, err = run("logs", "sql", sql)
    one_line_error(code, err, allowed=(0, 1, 2))
    assert run("logs", "count")[1].strip().endswith("20")


@fuzz(examples=20)
@given(text=config_texts())
def test_any_config_file(run: Run, settings: Settings, text: str) -> None:
    """Any $AICO_HOME/config/core.yaml: `aico config show` works or says what is wrong in one line (status 2)."""
    path = settings.home / "config" / "core.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        code, _, err = run("config", "show")
        one_line_error(code, err)
    finally:
        path.unlink()


@fuzz(examples=20)
@given(name=env_names, value=env_values)
def test_any_environment_value(run: Run, monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Any value of an AICO_ setting in the environment: `aico config show` works or names it in one line."""
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        value = value.replace("\x00", "").encode("utf-8", "replace").decode()  # an environment cannot hold these
    monkeypatch.setenv(name, value)
    try:
        code, _, err = run("config", "show")
        one_line_error(code, err)
    finally:
        monkeypatch.delenv(name)


KEY_COMMANDS = {"db.key": ("logs", "count"), "bridge.token": ("bridge", "token"),
                "archive.key": ("logs", "archive", "ls"), "analytics.key": ("analytics", "report")}


def run_with_key_file(run: Run, settings: Settings, name: str, data: bytes) -> None:
    """The command that reads key file ``name`` with ``data`` in the file: it works or says so in one line (exit 0
    to 3); the file is put back as it was after."""
    path: Path = settings.home / "keys" / name
    old = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        code, _, err = run(*KEY_COMMANDS[name])
        one_line_error(code, err, allowed=(0, 1, 2, 3))
    finally:
        path.unlink()
        if old is not None:
            path.write_bytes(old)


@CLOCK
@fuzz(examples=15)
@given(name=st.sampled_from(sorted(KEY_COMMANDS)), text=st.text(max_size=80))
def test_any_key_file_text(run: Run, settings: Settings, name: str, text: str) -> None:
    """A key file holding any text: the command works, or says in one line the key is wrong (never a traceback)."""
    run_with_key_file(run, settings, name, text.encode("utf-8", errors="surrogatepass"))


@CLOCK
@fuzz(examples=10)
@given(name=st.sampled_from(sorted(KEY_COMMANDS)), data=key_bytes)
def test_any_key_file_bytes(run: Run, settings: Settings, name: str, data: bytes) -> None:
    """A key file holding any bytes at all: the command works, or a one-line error (never a traceback)."""
    run_with_key_file(run, settings, name, data)


@CLOCK
def test_found_by_the_campaign(run: Run, settings: Settings) -> None:
    """What the fuzz campaign found, kept as plain cases: a NUL in a query, a surrogate in an argument,
    a multi-line YAML error and a config file that is not UTF-8."""
    code, out, err = run("logs", "ls", "-o", "jsonl", "--", "good\x003")
    assert code == 0 and '"good 3"' in out, err  # NUL splits words, as the tokenizer does
    code, _, err = run("logs", "sql", "\udcff")
    assert code == 2 and "\\udcff" in err  # echoed escaped, not a UnicodeEncodeError
    path = settings.home / "config" / "core.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    for text, says in ((b"core: [", "line 1, column 8"), (b"\xff\xfe", "not UTF-8")):
        path.write_bytes(text)
        code, _, err = run("config", "show")
        assert code == 2 and says in err and len(err.strip().splitlines()) == 1, err
    path.unlink()


@CLOCK
@pytest.mark.parametrize("value", ["99999999999d", "3000000d", "0001-01-01", "9999-12-31T23:59:59-05:00"])
def test_times_outside_the_calendar(run: Run, value: str) -> None:
    """A --since past what a calendar holds (found by the campaign: OverflowError) is a one-line error, status 2."""
    code, _, err = run("logs", "count", "--since", value)
    one_line_error(code, err)
    assert code == 2 and "--since" in err


@CLOCK
def test_a_filter_value_that_is_not_utf8(run: Run) -> None:
    """A filter or QUERY argument of bytes that are not UTF-8 (found by the campaign: a store error) is exit 2."""
    for args in (("--module", "\udcff"), ("--", "a\udcffb")):
        code, _, err = run("logs", "ls", *args)
        assert code == 2 and "not valid text" in err, err
