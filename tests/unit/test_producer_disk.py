"""The producer against a real disk that fills up or is read-only (a small tmpfs; skipped where none can be mounted).

The sender thread survives every refusal, keeps records in memory within its bound, and goes
back to the disk on its own once there is room; ``install()`` never raises into the application.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from aico.config import Settings, load_settings
from aico.logging.producer import Producer
from aico.logging.transport import MemoryTransport
from aico.schema import normalize, wire
from aico.schema.acks import encode_ack

from support import VENV_BIN, home_env, stamp, wait_until


@contextmanager
def small_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only): a disk that really fills up."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk says it is full; returns it (delete it to make room)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh, suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
    with filler.open("ab", buffering=0) as fh, suppress(OSError):
        while True:
            fh.write(b"\0")
    with pytest.raises(OSError) as full, (disk / "probe").open("wb", buffering=0) as fh:
        fh.write(b"x" * 4096)
    assert full.value.errno == errno.ENOSPC
    return filler


def rec(i: int) -> dict:
    return normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f",
                      "topic": "t", "message": f"m{i}"})


def sent(t: MemoryTransport) -> list[dict]:
    return [wire.decode(p) for _, frames in t.sent for p in frames]


def acknowledge_all(t: MemoryTransport, p: Producer) -> None:
    t.ack(encode_ack(p.producer_id, sorted({r["seq"] for r in sent(t)})))


def make_settings(home: Path, **producer: object) -> Settings:
    return load_settings(home=home, env={}, overrides={"core": {"logging": {"producer": producer}}})


def test_a_full_disk_never_stops_the_sender_and_it_goes_back_to_disk_when_room_returns(tmp_path: Path) -> None:
    """ENOSPC: records go on in memory, are sent and acknowledged; once space returns the spool is on disk again."""
    with small_tmpfs(tmp_path / "disk") as disk:
        t = MemoryTransport()
        p = Producer(make_settings(disk, spool_segment_mb=0.01), name="app",
                     transport_factory=lambda pid, acks: t).start()
        for i in range(20):
            p.offer(rec(i))
        wait_until(lambda: len(sent(t)) == 20, message="20 sends")
        acknowledge_all(t, p)
        assert p.flush(5)
        filler = fill(disk)
        for i in range(20, 520):
            p.offer(rec(i))
        wait_until(lambda: len(sent(t)) == 520, message="records logged on a full disk sent")
        acknowledge_all(t, p)
        assert p.flush(5), p.snapshot()
        snap = p.snapshot()
        assert snap["running"] and snap["spool_disk_errors"] > 0 and snap["dropped_total"] == 0
        filler.unlink()
        assert p.spool is not None
        p.spool._disk_retry_at = 0.0  # the backoff (up to 15 s) is not what this test waits for
        for i in range(520, 1020):
            p.offer(rec(i))
        wait_until(lambda: len(sent(t)) == 1020, message="records logged after space returned sent")
        assert p.spool.disk_error is None and p.spool.segments and p.spool.segments[-1].memory is None
        acknowledge_all(t, p)
        assert p.flush(5) and p.snapshot()["running"]
        assert sorted(r["message"] for r in sent(t)) == sorted(f"m{i}" for i in range(1020))
        assert p.close(1)


def test_records_held_in_memory_are_bounded_and_drops_are_said(tmp_path: Path) -> None:
    """Disk full, nothing acknowledged: memory stays within spool_memory_mb, the oldest go, counted, with a notice."""
    with small_tmpfs(tmp_path / "disk") as disk:
        t = MemoryTransport()
        p = Producer(make_settings(disk, spool_segment_mb=0.004, spool_memory_mb=0.02), name="app",
                     transport_factory=lambda pid, acks: t).start()
        p.offer(rec(0))
        wait_until(lambda: sent(t), message="the spool made on disk")
        fill(disk)
        for i in range(1, 2001):
            p.offer(rec(i))
        wait_until(lambda: p.snapshot()["dropped"].get("memory_full", 0) > 0, message="a memory_full drop")
        notices = wait_until(lambda: [r for r in sent(t) if r["topic"] == "logging.drops"], message="the notice")
        assert "records dropped by app: spool full" in notices[0]["message"]
        wait_until(lambda: p.snapshot()["queued"] == 0, message="every record taken from the queue")
        with p._done:  # the sender's lock: not in the middle of a take (append, then the bound enforced)
            assert p.spool is not None and p.spool.memory_size <= 0.02 * 1024 * 1024 + 4096
        assert p.snapshot()["running"]
        p.close(0)


APP = """
import logging, sys
import aico.logging
aico.logging.install()
logging.getLogger("app").warning("still logging")
print("stats", aico.logging.stats()["spool_memory_only"], aico.logging.stats()["running"], flush=True)
"""


@pytest.mark.parametrize("how", ["file in the way", "read-only mount"])
@pytest.mark.e2e  # a Python process per case: out of make check's fast tier
def test_install_on_an_unwritable_home_falls_back_to_memory_and_says_so_once(tmp_path: Path, how: str) -> None:
    """install() never raises when AICO_HOME cannot be written: memory-only spool, one line on stderr."""
    home = tmp_path / "home"
    env = home_env(home, AICO_CORE__LOGGING__PRODUCER__FLUSH_TIMEOUT_S="0.2")
    if how == "file in the way":
        home.mkdir()
        (home / "spool").write_text("not a folder")
        done = subprocess.run([str(VENV_BIN / "python"), "-c", APP], env=env, capture_output=True, text=True,
                              timeout=60)
    else:
        with small_tmpfs(home):
            subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
            done = subprocess.run([str(VENV_BIN / "python"), "-c", APP], env=env, capture_output=True,
                                  text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "stats True True" in done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.count("in memory only") == 1, done.stderr
