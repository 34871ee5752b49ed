"""Retention end to end: the archive CLI, the plugin in a real backend, and SIGKILL of a running job."""

from __future__ import annotations

import json
import random
import subprocess
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aico.config import Settings, load_settings
from aico.retention import archives

from retention_support import identity, seed_days, union_counts
from support import AICO, Backend, home_env, run_aico, wait_until

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)

SMALL = {
    "AICO_CORE__LOGGING__RETENTION__DAYS": "8",
    "AICO_CORE__LOGGING__RETENTION__HOT_DAYS": "3",
    "AICO_CORE__LOGGING__RETENTION__DELETE_CHUNK_ROWS": "50",
    "AICO_CORE__LOGGING__RETENTION__MIN_FREE_DISK_MB": "1",  # a nearly full test disk must not change the runs
}


def test_archive_commands(env: dict[str, str], settings: Settings) -> None:
    """run, ls, search and restore work from the command line, with JSON output and clear errors."""
    env = {**env, **SMALL}
    seeded = seed_days(settings, datetime.now(UTC), 10, 30)
    done = run_aico(env, "logs", "archive", "run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    today = date.fromisoformat(report["today"])
    archived = sorted((today - timedelta(days=ago)).isoformat() for ago in range(3, 8))
    assert sorted(a["day"] for a in report["archived"]) == archived
    assert len(report["expired_days"]) == 2 and report["expired_rows"] == 60

    listing = json.loads(run_aico(env, "logs", "archive", "ls", "--json").stdout)
    assert [(a["day"], a["records"], a["error"]) for a in listing["archives"]] == [(d, 30, None) for d in archived]
    assert sorted(listing["database"]) == sorted((today - timedelta(days=ago)).isoformat() for ago in range(3))
    assert "archive (gzip)" in run_aico(env, "logs", "archive", "ls").stdout

    day = archived[0]
    found = run_aico(env, "logs", "archive", "search", "--level", "error", "--since", day, "--until", archived[1],
                     "--grep", "secret", "-n", "0", "-o", "jsonl")
    assert found.returncode == 0, found.stderr
    rows = [json.loads(line) for line in found.stdout.splitlines()]
    assert [r["seq"] for r in rows] == [r["seq"] for r in seeded[day] if r["level"] == "ERROR"]
    same = run_aico(env, "logs", "ls", "--archives", "-p", "error", "--since", day, "--until", archived[1],
                    "--grep", "secret", "-n", "1000", "-o", "jsonl")  # the same command under its other name
    assert same.returncode == 0, same.stderr
    assert [json.loads(line)["seq"] for line in same.stdout.splitlines()] == [r["seq"] for r in rows]
    newest = run_aico(env, "logs", "ls", "--archives", "-n", "2", "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line)["timestamp"][:10] for line in newest] == [archived[-1]] * 2

    restored = run_aico(env, "logs", "archive", "restore", day)
    assert restored.returncode == 0 and "restored 30 of 30" in restored.stdout
    assert "restored 0 of 30" in run_aico(env, "logs", "archive", "restore", day).stdout
    bad = run_aico(env, "logs", "archive", "restore", "yesterday")
    assert bad.returncode == 2 and "not a day" in bad.stderr
    bad = run_aico(env, "logs", "archive", "search", "--since", "soon")
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_the_backend_runs_retention_by_itself(env: dict[str, str], settings: Settings) -> None:
    """Started with the default plugins, the backend archives old days at start and reports it in status."""
    env = {**env, **SMALL}
    seed_days(settings, datetime.now(UTC), 5, 10)
    with Backend(env):
        def ran() -> dict | None:
            status = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
            plugin = status.get("plugins", {}).get("log_retention", {})
            return plugin if plugin.get("runs") else None

        plugin = wait_until(ran, timeout=30, message="a retention run")
        assert plugin["state"] == "running" and plugin["last_reason"] == "startup"
        assert plugin["archived_days"] == 2 and plugin["disk_state"] == "ok"
    assert len(archives.archived_days(settings)) == 2


def _kill_mid_run(env: dict[str, str], settings: Settings, rng: random.Random) -> bool:
    """Start ``aico logs archive run``, SIGKILL it a random moment after it takes the job lock.

    Returns whether it was still running when killed.
    """
    lock = archives.archive_dir(settings) / ".lock"
    proc = subprocess.Popen([AICO, "logs", "archive", "run"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is not None or (lock.exists() and lock.read_text().strip() == str(proc.pid)),
                   timeout=30, interval=0.002, message="the job to take its lock")
        proc.wait(timeout=rng.uniform(0.0, 0.15))
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)
        return True


def test_sigkill_at_random_points_then_a_rerun_keeps_every_record_once(tmp_path: Path) -> None:
    """Killed at random moments (once or twice per store, several stores), a rerun leaves each record exactly once."""
    rng = random.Random(6)
    killed_running = 0
    for n in range(5):
        env = {**home_env(tmp_path / f"home{n}"), **SMALL}
        s = load_settings(env=env)
        seeded = seed_days(s, datetime.now(UTC), 10, 1000)
        for _ in range(rng.choice((1, 2))):
            killed_running += _kill_mid_run(env, s, rng)
            assert max(union_counts(s).values()) <= 2
        done = run_aico(env, "logs", "archive", "run", "--json")
        assert done.returncode == 0, done.stderr
        keep_from = (date.fromisoformat(json.loads(done.stdout)["today"]) - timedelta(days=7)).isoformat()
        kept = Counter(identity(r) for day, recs in seeded.items() if day >= keep_from for r in recs)
        assert union_counts(s) == kept
        assert not list(archives.archive_dir(s).glob("*.tmp"))
    assert killed_running >= 3  # the kills really landed inside running jobs
