"""`aico keys rotate db` with the backend running: its store writer re-keys the store while records flow."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from aico.config import Settings
from aico.store.repository import LogStore
from faults_support import campaign_seed

from conftest import App
from retention_support import seed_days
from support import AICO, Backend, run_aico, wait_until

ONLY_CONSUMER = ("--plugins", "message_bus,log_consumer")


def stored_i(settings: Settings, name: str) -> tuple[int, int]:
    """(rows, distinct ``extra.i``) of the records the producer marked `` [name]``."""
    with LogStore.open(settings) as store:
        rows = store.conn.execute(
            "SELECT count(*), count(DISTINCT json_extract(extra, '$.i')) FROM logs WHERE message LIKE ?",
            (f"%[{name}]",)).fetchall()
    return int(rows[0][0]), int(rows[0][1])


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the store writer of a backend)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def kill_all(backend: Backend) -> None:
    """SIGKILL the backend and its store writer at once (the writer would otherwise finish the rekey alone)."""
    assert backend.proc is not None
    for pid in children(backend.proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    backend.kill()


def test_rotating_the_database_key_with_the_backend_running_keeps_every_record_once(
        env: dict[str, str], settings: Settings) -> None:
    """Records flow while the running backend re-keys: all stored once, the new key alone opens the store."""
    seed_days(settings, datetime.now(UTC), 2, 2000)
    old_key = (settings.keys_dir / "db.key").read_text().strip()
    with Backend(env):
        app = App(env, "--records", "3000", "--rate", "1500", "--name", "rot-app", "--flush", "60",
                  "--marker", " [rot-app]")
        try:
            wait_until(lambda: stored_i(settings, "rot-app")[0] > 200, timeout=30, message="records flowing")
            done = run_aico(env, "keys", "rotate", "db", "--timeout", "60")
            assert done.returncode == 0, done.stdout + done.stderr
            assert "database key rotated" in done.stdout
            assert app.wait_for("flushed", timeout=90)["flushed"] is True
        finally:
            app.kill()
        assert stored_i(settings, "rot-app") == (3000, 3000)
        assert run_aico(env, "logs", "ls", "-n", "5").returncode == 0
    assert (settings.keys_dir / "db.key").read_text().strip() != old_key
    assert not list(settings.keys_dir.glob("db.next*"))
    with_old = run_aico({**env, "AICO_DB_KEY": old_key}, "logs", "count")
    assert with_old.returncode == 3 and with_old.stderr.count("\n") == 1


def test_rotating_with_a_reader_holding_the_store_fails_in_one_line_and_leaves_it(
        env: dict[str, str], settings: Settings) -> None:
    """A `tail -f` keeps the store open past the writer's wait: one line, exit 1, the old key still opens it."""
    seed_days(settings, datetime.now(UTC), 1, 100)
    before = (settings.keys_dir / "db.key").read_text()
    with Backend(env, *ONLY_CONSUMER):
        tail = subprocess.Popen([AICO, "logs", "tail", "-f"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: run_aico(env, "logs", "count").returncode == 0, timeout=10, message="the store")
            done = run_aico(env, "keys", "rotate", "db", "--timeout", "60")
        finally:
            tail.kill()
            tail.wait(10)
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "close them" in done.stderr
        assert run_aico(env, "logs", "count").stdout.strip() == "100"
    assert (settings.keys_dir / "db.key").read_text() == before
    assert not list(settings.keys_dir.glob("db.next*"))


def test_a_backend_killed_at_any_point_of_an_online_rotation_leaves_a_store_that_opens_whole(
        env: dict[str, str], settings: Settings) -> None:
    """SIGKILL of the backend (and its writer) at seeded random points of an online rekey: the store opens, whole."""
    seed_days(settings, datetime.now(UTC), 2, 10000)
    seed = campaign_seed()
    rng = random.Random(seed)
    backend = Backend(env, *ONLY_CONSUMER).start()
    started = time.monotonic()
    assert run_aico(env, "keys", "rotate", "db").returncode == 0
    whole = time.monotonic() - started
    print(f"whole online rotation {whole:.2f} s")
    expected = 0
    try:
        for round_ in range(4):
            name = f"kill-{round_}"
            app = App(env, "--records", "400", "--rate", "800", "--name", name, "--flush", "90",
                      "--marker", f" [{name}]")
            try:
                wait_until(lambda n=name: stored_i(settings, n)[0] > 0, timeout=30, message="records flowing")
                delay = rng.uniform(0, whole * 1.2)
                rotation = subprocess.Popen([AICO, "keys", "rotate", "db", "--timeout", "20"], env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    rotation.wait(delay)
                except subprocess.TimeoutExpired:
                    pass
                kill_all(backend)
                rotation.kill()
                rotation.wait(30)
                where = f"seed {seed}, round {round_}, killed at {delay:.3f} s"
                count = run_aico(env, "logs", "count")
                assert count.returncode == 0, f"{where}: {count.stderr}"
                backend = Backend(env, *ONLY_CONSUMER).start()
                assert app.wait_for("flushed", timeout=120)["flushed"] is True, where
            finally:
                app.kill()
            expected += 400
            assert stored_i(settings, name) == (400, 400), where
        assert run_aico(env, "logs", "count").stdout.strip() == str(20000 + expected)
    finally:
        backend.stop()
    assert run_aico(env, "keys", "rotate", "db").returncode == 0
    assert not list(settings.keys_dir.glob("db.next*"))


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
