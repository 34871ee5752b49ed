"""`aico keys rotate`: the database key is replaced in place; a kill at any point leaves a store that opens, whole."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aico.config import Settings
from faults_support import campaign_seed

from retention_support import seed_days
from support import AICO, run_aico, wait_until


def fingerprint(env: dict[str, str], label: str) -> str:
    rows = json.loads(run_aico(env, "keys", "status", "--json").stdout)
    return str(next(r["fingerprint"] for r in rows if r["key"] == label))


def kill_rotations(env: dict[str, str], key: str, rounds: int, check: Callable[[str], None],
                   at_least: int = 1, began: Path | None = None) -> int:
    """Time one whole `aico keys rotate KEY`, then start it ``rounds`` times and SIGKILL it at a seeded
    random point of its run (after the command's own start); ``check`` runs after each. A round whose
    rotation ends before its kill point is a whole rotation (checked too); rounds go on past ``rounds``
    (up to twice as many more) until ``at_least`` were cut: a loaded machine stretches the run beyond the
    timed one. With ``began`` (a file the rotation makes when its work starts, ``db.next``'s), the kill
    point is counted from that file's appearance instead, so the command's start-up time, which varies
    most under load, does not push the cuts past the end. How many were cut."""
    seed = campaign_seed()
    rng = random.Random(seed)
    started = time.monotonic()
    assert run_aico(env, "keys", "status").returncode == 0
    startup = time.monotonic() - started  # the command's own start: the work comes after it
    started = time.monotonic()
    proc = subprocess.Popen([AICO, "keys", "rotate", key], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    work_began = _began(proc, began) or started
    assert proc.wait(120) == 0
    whole, work = time.monotonic() - started, time.monotonic() - work_began
    print(f"start {startup:.2f} s, whole rotation {whole:.2f} s, {work:.2f} s of it after it began")
    killed = round_ = 0
    while round_ < rounds or (killed < at_least and round_ < 3 * rounds):
        delay = rng.uniform(0.0, work * 1.1) if began else rng.uniform(startup * 0.8, whole * 1.1)
        proc = subprocess.Popen([AICO, "keys", "rotate", key], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _began(proc, began)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
            killed += 1
        check(f"seed {seed}, round {round_}, killed at {delay:.3f} s" + (" after it began" if began else ""))
        round_ += 1
    return killed


def _began(proc: subprocess.Popen[bytes], began: Path | None) -> float | None:
    """When ``began`` appeared (``time.monotonic``), waited for while ``proc`` runs; None without one."""
    if began is None:
        return None
    wait_until(lambda: began.exists() or proc.poll() is not None, timeout=120, interval=0.002,
               message=f"{began.name} made")
    return time.monotonic()


def test_rotating_the_database_key_re_encrypts_the_store_and_keeps_every_record(
        env: dict[str, str], settings: Settings) -> None:
    """After a rotation the fingerprint changed, the store opens with the new key only, and holds every record."""
    seed_days(settings, datetime.now(UTC), 2, 50)
    before = fingerprint(env, "database")
    old_key = (settings.keys_dir / "db.key").read_text().strip()
    done = run_aico(env, "keys", "rotate", "database")
    assert done.returncode == 0, done.stderr
    assert fingerprint(env, "database") != before
    assert run_aico(env, "logs", "count").stdout.strip() == "100"
    with_old = run_aico({**env, "AICO_DB_KEY": old_key}, "logs", "count")
    assert with_old.returncode == 3 and "Traceback" not in with_old.stderr


def test_a_kill_at_any_point_of_a_database_rotation_leaves_a_store_that_opens_whole(
        env: dict[str, str], settings: Settings) -> None:
    """SIGKILL at random points of `aico keys rotate db`, again and again: the store always opens with every record."""
    seed_days(settings, datetime.now(UTC), 4, 5000)

    def opens_whole(where: str) -> None:
        count = run_aico(env, "logs", "count")
        assert count.returncode == 0 and count.stdout.strip() == "20000", f"{where}: {count.stdout}{count.stderr}"

    assert kill_rotations(env, "db", 12, opens_whole, at_least=3, began=settings.keys_dir / "db.next.key") >= 3
    assert run_aico(env, "keys", "rotate", "db").returncode == 0
    assert not list(settings.keys_dir.glob("db.next*"))


def test_rotating_the_bridge_token_replaces_it_and_says_what_to_restart(env: dict[str, str]) -> None:
    """The token file holds a new token; stderr says to restart the backend; the fingerprint changed."""
    old = run_aico(env, "bridge", "token").stdout.strip()
    done = run_aico(env, "keys", "rotate", "bridge-token")
    assert done.returncode == 0 and "restart the backend" in done.stderr
    assert run_aico(env, "bridge", "token").stdout.strip() not in ("", old)
    unsupported = run_aico(env, "keys", "rotate", "nonsense")
    assert unsupported.returncode == 2 and unsupported.stderr.count("\n") == 1


def archive_total(env: dict[str, str]) -> tuple[int, list[str]]:
    """Records in all archives, and the errors of those that did not open."""
    listing = json.loads(run_aico(env, "logs", "archive", "ls", "--json").stdout)
    return (sum(int(a["records"] or 0) for a in listing["archives"]),
            [a["error"] for a in listing["archives"] if a["error"]])


def test_a_kill_at_any_point_of_an_archive_rotation_leaves_every_archive_readable(
        env: dict[str, str], settings: Settings) -> None:
    """SIGKILL at seeded random points of `aico keys rotate archives`: every archive opens, every record is there."""
    env = {**env, "AICO_CORE__LOGGING__RETENTION__DAYS": "30", "AICO_CORE__LOGGING__RETENTION__HOT_DAYS": "1",
           "AICO_CORE__LOGGING__RETENTION__MIN_FREE_DISK_MB": "1"}
    seed_days(settings, datetime.now(UTC), 8, 3000)
    assert run_aico(env, "logs", "archive", "run").returncode == 0
    total, errors = archive_total(env)
    assert total >= 6 * 3000 and not errors

    def all_readable(where: str) -> None:
        assert archive_total(env) == (total, []), where

    assert kill_rotations(env, "archives", 8, all_readable, at_least=2) >= 2
    assert not list(settings.keys_dir.glob("archive.next*"))


def test_a_kill_at_any_point_of_an_analytics_rotation_leaves_a_copy_that_opens_whole(
        env: dict[str, str], settings: Settings) -> None:
    """The analytics copy is rewritten under a new key; SIGKILLs at seeded random points never leave it unreadable."""
    seed_days(settings, datetime.now(UTC), 3, 2000)
    assert run_aico(env, "analytics", "etl").returncode == 0

    def analytics_count() -> str:
        out = run_aico(env, "analytics", "query", "SELECT count(*) AS n FROM logs", "-o", "json")
        assert out.returncode == 0, out.stderr
        return out.stdout

    expected = analytics_count()
    before = fingerprint(env, "analytics")

    def opens_whole(where: str) -> None:
        assert analytics_count() == expected, where

    assert kill_rotations(env, "analytics", 6, opens_whole, at_least=1) >= 1
    assert fingerprint(env, "analytics") != before
    assert not list(settings.keys_dir.glob("analytics.next*"))
    assert not list(settings.analytics_path.parent.glob(settings.analytics_path.name + ".rekey*"))


def test_rotating_the_privacy_key_replaces_it_and_says_pseudonyms_change(
        env: dict[str, str], settings: Settings) -> None:
    """`rotate privacy`: a new HMAC key, a line saying every pseudonym changes; from the environment it is refused."""
    settings.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (settings.keys_dir / "privacy.key").write_text("a" * 64 + "\n")
    done = run_aico(env, "keys", "rotate", "privacy")
    assert done.returncode == 0 and "every pseudonym changes" in done.stderr, done.stderr
    assert (settings.keys_dir / "privacy.key").read_text().strip() not in ("", "a" * 64)
    assert (settings.keys_dir / "privacy.key").stat().st_mode & 0o777 == 0o600
    refused = run_aico({**env, "AICO_PRIVACY_KEY": "b" * 64}, "keys", "rotate", "privacy")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1

