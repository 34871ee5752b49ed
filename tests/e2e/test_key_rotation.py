"""`aico keys rotate`: the database key is replaced in place; a kill at any point leaves a store that opens, whole."""

from __future__ import annotations

import random
import subprocess
import time
from datetime import UTC, datetime

from aico.config import Settings
from faults_support import campaign_seed

from retention_support import seed_days
from support import AICO, run_aico


def fingerprint(env: dict[str, str], label: str) -> str:
    import json

    rows = json.loads(run_aico(env, "keys", "status", "--json").stdout)
    return str(next(r["fingerprint"] for r in rows if r["key"] == label))


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
    seed = campaign_seed()
    rng = random.Random(seed)
    seed_days(settings, datetime.now(UTC), 4, 5000)
    started = time.monotonic()
    assert run_aico(env, "keys", "status").returncode == 0
    startup = time.monotonic() - started  # the command's own start: the rekey comes after it
    started = time.monotonic()
    assert run_aico(env, "keys", "rotate", "db").returncode == 0
    whole = time.monotonic() - started
    print(f"start {startup:.2f} s, whole rotation {whole:.2f} s")
    killed = 0
    for round_ in range(12):
        delay = rng.uniform(startup * 0.8, whole * 1.1)
        proc = subprocess.Popen([AICO, "keys", "rotate", "db"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
            killed += 1
        count = run_aico(env, "logs", "count")
        assert count.returncode == 0 and count.stdout.strip() == "20000", (
            f"seed {seed}, round {round_}, killed at {delay:.3f} s: {count.stdout}{count.stderr}")
    assert killed >= 3, f"seed {seed}: only {killed} rotations were cut short"
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
