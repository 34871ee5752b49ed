"""The CLI meets broken keys, a wrong key, a missing folder, a bad query or a read-only home with one line and a code.

Never a traceback: each case here printed one (or exited 0 saying nothing) before.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aico.config import Settings
from aico.config.private import tighten
from aico.schema import normalize
from aico.store import LogStore

from support import run_aico, stamp

# Each test runs the aico CLI as a process (one starts a backend): e2e, out of make check's fast tier.
# Marked clock: only the test that reads the stamped records back (the others stop at a key, a path, a
# query, a config or a token, before any record or date is read).
pytestmark = pytest.mark.e2e


@pytest.fixture
def home(settings: Settings, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A home with a store of three records; the environment to reach it."""
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize({"timestamp": stamp(60 - i), "level": "INFO", "module": "m", "function": "f",
                                       "topic": "t", "message": f"record {i}"}) for i in range(3)])
    tighten(settings.home)  # made here under the test's umask: as the backend makes it, so it says nothing of modes
    yield env


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage", b"\x00" * 64])
def test_a_key_file_that_is_not_text_is_one_line_and_exit_3(home: dict[str, str], settings: Settings,
                                                            content: bytes) -> None:
    """A key file holding bytes that are not a key: one line naming the file, exit 3."""
    (settings.keys_dir / "db.key").write_bytes(content)
    done = run_aico(home, "logs", "ls")
    assert done.returncode == 3 and "db.key" in one_line(done)


def test_backend_start_with_a_wrong_key_is_one_line_and_exit_3(home: dict[str, str]) -> None:
    """The key is checked before any plugin starts: one line, exit 3."""
    done = run_aico({**home, "AICO_DB_KEY": "0" * 64}, "backend", "start", timeout=60)
    assert done.returncode == 3 and "wrong encryption key" in one_line(done)


def test_export_to_a_missing_folder_is_one_line(home: dict[str, str], tmp_path: Path) -> None:
    """Export names the missing folder, exits 1, and leaves nothing behind."""
    target = tmp_path / "nowhere" / "x.jsonl"
    done = run_aico(home, "logs", "export", str(target))
    assert done.returncode == 1 and "no folder" in one_line(done) and not target.parent.exists()
    done = run_aico(home, "logs", "export", str(tmp_path), "--format", "jsonl")
    assert done.returncode == 1 and "is a folder" in one_line(done)


@pytest.mark.parametrize(("query", "why"), [('"unterminated', "unterminated quote"),
                                            ("(" * 500 + "a" + ")" * 500, "nested deeper")])
def test_a_broken_query_is_exit_2(home: dict[str, str], query: str, why: str) -> None:
    """An unterminated phrase or parentheses nested too deep: exit 2 naming the problem, not silence or a traceback."""
    done = run_aico(home, "logs", "ls", query)
    assert done.returncode == 2 and why in one_line(done)
    done = run_aico(home, "logs", "ls", "--grep", "(" * 5000 + ")" * 5000)
    assert done.returncode == 2 and "--grep" in one_line(done)


def test_a_config_file_that_is_not_text_is_one_line(home: dict[str, str], settings: Settings) -> None:
    """A config file with bytes that are not UTF-8, or nested too deep: exit 2, one line."""
    config = settings.home / "config" / "core.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    for content in (b"core: \xff\xfe", b"core: " + b"[" * 5000 + b"]" * 5000):
        config.write_bytes(content)
        done = run_aico(home, "config", "show")
        assert done.returncode == 2 and "core.yaml" in one_line(done)


def test_a_bridge_token_that_is_not_text_is_one_line(home: dict[str, str], settings: Settings) -> None:
    """A bridge token file with bytes that are not text: one line naming it."""
    (settings.keys_dir / "bridge.token").write_bytes(b"\xff\xfe")
    done = run_aico(home, "bridge", "token")
    assert done.returncode == 1 and "bridge.token" in one_line(done)


def test_a_read_only_home_can_be_read(home: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    """On a read-only mount the store is read (ls, count, sql, db info); the backend says why it cannot start."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        subprocess.run(["cp", "-a", f"{settings.home}/.", str(ro)], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        env = {**home, "AICO_HOME": str(ro)}
        done = run_aico(env, "logs", "ls", "-o", "raw")
        assert done.returncode == 0 and done.stdout.split("\n")[:3] == ["record 0", "record 1", "record 2"]
        assert run_aico(env, "logs", "count").stdout.strip() == "3"
        assert run_aico(env, "logs", "sql", "SELECT count(*) AS n FROM logs", "-o", "csv").stdout == "n\n3\n"
        assert run_aico(env, "db", "info").returncode == 0
        done = run_aico(env, "backend", "start")
        assert done.returncode == 1 and "read-only" in one_line(done)
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
