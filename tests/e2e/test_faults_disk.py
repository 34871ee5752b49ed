"""Fault campaign, disks: a full (ENOSPC) or read-only (EROFS) tmpfs under the spool, the store, the archives
and the analytics file. Every case ends with every record stored once (or counted as dropped) and the services up.
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_bridge_process import running_bridge
from test_faults_kill import BridgeClient
from test_zero_loss import count, indexes

from aico.config import load_settings
from faults_support import Tmpfs, tmpfs

import etl_data
from conftest import App
from retention_support import seed_days, union_counts
from support import Backend, run_aico, wait_until

FAULTS = ["enospc", "erofs"]
BUS_ONLY = ("--plugins", "message_bus,log_consumer")


def break_disk(fs: Tmpfs, fault: str) -> Path | None:
    """Make the disk fail the way ``fault`` says; the ballast file of a full disk (None for read-only)."""
    if fault == "enospc":
        return fs.fill()
    fs.read_only()
    return None


def mend_disk(fs: Tmpfs, ballast: Path | None) -> None:
    if ballast is None:
        fs.read_only(False)
    else:
        ballast.unlink()


def status(env: dict[str, str]) -> dict:
    return json.loads(run_aico(env, "gateway", "status", "--json").stdout or "{}")


def consumer(env: dict[str, str]) -> dict:
    return (status(env).get("plugins") or {}).get("log_consumer") or {}


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def test_store_disk_full_mid_stream(env: dict[str, str], tmp_path: Path) -> None:
    """The store's disk full mid-stream: the backend stays up, and once space returns every record is stored once."""
    with tmpfs(tmp_path / "store", 24 * 1024) as fs:
        env["AICO_CORE__LOGGING__PATHS__DATABASE"] = str(fs.path / "aico.db")
        backend = Backend(env, *BUS_ONLY).start()
        app = App(env, "--records", "6000", "--rate", "1500", "--flush", "180", "--name", "disk-app")
        try:
            wait_until(lambda: count(env) >= 1000, timeout=60, message="1,000 stored before the fault")
            ballast = fs.fill()
            wait_until(lambda: consumer(env).get("store_errors", 0) > 0, timeout=60, message="a failed commit")
            assert count(env) < 6000
            assert backend.proc is not None and backend.proc.poll() is None, "the backend stays up"
            ballast.unlink()
            done = app.wait_for("flushed", timeout=240)
            assert done["flushed"] is True, done
            assert indexes(env) == list(range(6000))
            assert status(env).get("running") is True
        finally:
            app.kill()
            backend.kill()
    no_traceback(backend.output())


def test_store_disk_read_only(env: dict[str, str], tmp_path: Path) -> None:
    """The store's disk read-only (a disk remounted after errors): a one-line error; records wait in the spool."""
    # A mount with files open for writing cannot be remounted read-only (EBUSY), so the backend is
    # stopped first and started again on the read-only disk, as after a reboot onto a damaged disk.
    with tmpfs(tmp_path / "store", 24 * 1024) as fs:
        env["AICO_CORE__LOGGING__PATHS__DATABASE"] = str(fs.path / "aico.db")
        backend = Backend(env, *BUS_ONLY).start()
        app = App(env, "--records", "4000", "--rate", "1000", "--flush", "180", "--name", "ro-app")
        try:
            wait_until(lambda: count(env) >= 500, timeout=60, message="500 stored before the fault")
            backend.stop()
            fs.read_only()
            refused = run_aico(env, "backend", "start", *BUS_ONLY, timeout=60)
            assert refused.returncode != 0
            no_traceback(refused.stdout, refused.stderr)
            errors = [line for line in refused.stderr.splitlines() if line.startswith("aico: error:")]
            assert len(errors) == 1 and "aico.db" in errors[0], refused.stderr
            fs.read_only(False)
            backend = Backend(env, *BUS_ONLY).start()
            done = app.wait_for("flushed", timeout=240)
            assert done["flushed"] is True, done
            assert indexes(env) == list(range(4000))
        finally:
            app.kill()
            backend.kill()


def spool_env(env: dict[str, str], fs: Tmpfs) -> None:
    env.update({"AICO_CORE__LOGGING__PATHS__SPOOL": str(fs.path),
                "AICO_CORE__LOGGING__PRODUCER__SPOOL_SEGMENT_MB": "1"})


def test_spool_disk_full_then_space_returns(env: dict[str, str], tmp_path: Path) -> None:
    """The producer's spool disk fills mid-stream: logging never raises; once space returns, each record is
    stored once or counted as dropped, and shipping resumes on its own."""
    with tmpfs(tmp_path / "spool", 16 * 1024) as fs:
        spool_env(env, fs)
        backend = Backend(env, *BUS_ONLY).start()
        app = App(env, "--records", "3000", "--rate", "1000", "--flush", "120", "--name", "spool-app",
                  "--progress", "0.2")
        try:
            app.wait_for("progress", until=lambda d: d["progress"]["acknowledged"] >= 500, timeout=60)
            ballast = fs.fill()
            app.wait_for("progress", until=lambda d: d["progress"]["produced"] >= 1500, timeout=60)
            ballast.unlink()
            done = app.wait_for("flushed", timeout=180)
            stats = done["stats"]
            stored = indexes(env)
            assert len(stored) == len(set(stored)), "no record stored twice"
            assert done["flushed"] is True, stats
            assert len(stored) + stats["dropped_total"] == 3000, stats  # stored, or counted with its reason
            assert app.proc.wait(60) == 0
        finally:
            app.kill()
            backend.kill()
    no_traceback(backend.output())


def test_bridge_spool_disk_full_a_2xx_waits_for_the_store(env: dict[str, str], tmp_path: Path) -> None:
    """The bridge's spool disk is full: what it answered 2xx for was stored first, so a SIGKILL of the bridge
    right after loses nothing; every record the client sent is stored once."""
    total = 1500
    with tmpfs(tmp_path / "spool", 16 * 1024) as fs:
        spool_env(env, fs)
        with Backend(env, "--plugins", "message_bus,log_consumer,log_bridge") as backend:
            pid = running_bridge(env)["pid"]
            ballast = fs.fill()
            client = BridgeClient(env, total)
            client.thread.start()
            wait_until(lambda: client.accepted >= total // 2, timeout=120, message="half accepted")
            os.kill(pid, signal.SIGKILL)
            assert len(indexes(env)) >= client.accepted  # every 2xx was stored before it was sent
            running_bridge(env, not_pid=pid)
            client.thread.join(180)
            assert client.accepted == total
            assert not [code for code in client.statuses if code >= 500 and code != 503], client.statuses
            wait_until(lambda: count(env) >= total, timeout=120, message=f"{total} stored")
            assert indexes(env) == list(range(total))
            ballast.unlink()
            no_traceback(backend.output())


def test_spool_disk_read_only(env: dict[str, str], tmp_path: Path) -> None:
    """A producer starting on a read-only spool disk: install() and logging never raise, and its records ship."""
    with tmpfs(tmp_path / "spool", 16 * 1024) as fs:
        spool_env(env, fs)
        (fs.path / "ro-app").mkdir()
        fs.read_only()
        with Backend(env, *BUS_ONLY):
            app = App(env, "--records", "2000", "--rate", "2000", "--flush", "120", "--name", "ro-app")
            try:
                done = app.wait_for("flushed", timeout=180)
                assert done["flushed"] is True, done
                assert indexes(env) == list(range(2000))
                assert app.proc.wait(60) == 0
            finally:
                app.kill()


@pytest.mark.parametrize("fault", FAULTS)
def test_archive_disk_fails(env: dict[str, str], tmp_path: Path, fault: str) -> None:
    """Archiving onto a full or read-only disk: a one-line error, no day lost; once mended, each day archived once."""
    settings = load_settings(env=env)
    with tmpfs(tmp_path / "archive", 4 * 1024) as fs:
        env.update({"AICO_CORE__LOGGING__RETENTION__ARCHIVE_DIR": str(fs.path),
                    "AICO_CORE__LOGGING__RETENTION__HOT_DAYS": "2",
                    "AICO_CORE__LOGGING__RETENTION__MIN_FREE_DISK_MB": "0"})
        settings = load_settings(env=env)
        seed_days(settings, datetime.now(UTC), 5, 2000, message="x" * 200)
        before = union_counts(settings)
        ballast = break_disk(fs, fault)
        failed = run_aico(env, "logs", "archive", "run")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        no_traceback(failed.stdout, failed.stderr)
        assert union_counts(settings) == before, "nothing lost, nothing doubled while the disk failed"
        mend_disk(fs, ballast)
        done = run_aico(env, "logs", "archive", "run", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(json.loads(done.stdout)["archived"]) == 3
        after = union_counts(settings)
        assert after == before and set(after.values()) == {1}


@pytest.mark.parametrize("fault", FAULTS)
def test_analytics_disk_fails(env: dict[str, str], tmp_path: Path, fault: str) -> None:
    """The ETL onto a full or read-only disk: a one-line error; once mended, every kept record loaded once."""
    env["AICO_CORE__ANALYTICS__THREADS"] = "1"
    settings = load_settings(env=env)
    raws = etl_data.raw_records(3000)
    etl_data.store_records(settings, raws)
    with tmpfs(tmp_path / "analytics", 8 * 1024) as fs:
        env["AICO_CORE__ANALYTICS__DATABASE"] = str(fs.path / "analytics.duckdb")
        first = run_aico(env, "analytics", "etl", "--json")
        assert first.returncode == 0, first.stderr
        etl_data.store_records(load_settings(env=env), etl_data.raw_records(3000, start_seq=100000))
        ballast = break_disk(fs, fault)
        failed = run_aico(env, "analytics", "etl")
        assert failed.returncode != 0
        no_traceback(failed.stdout, failed.stderr)
        assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
        mend_disk(fs, ballast)
        again = run_aico(env, "analytics", "etl", "--json")
        assert again.returncode == 0, again.stderr
        query = run_aico(env, "analytics", "query", "SELECT count(*) AS n, count(DISTINCT id) AS d FROM logs",
                         "-o", "json")
        assert query.returncode == 0, query.stderr
        kept = len(etl_data.kept(raws)) * 2
        assert json.loads(query.stdout) == [{"n": kept, "d": kept}]
