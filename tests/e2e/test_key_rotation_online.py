"""`aico keys rotate db` with the backend running: records flow, readers keep reading, kills leave a whole store."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from aico.config import Settings
from aico.store.repository import LogStore
from faults_support import campaign_seed

from conftest import App
from retention_support import seed_days
from support import AICO, Backend, run_aico, wait_until

ONLY_CONSUMER = ("--plugins", "message_bus,log_consumer")
WITH_DASHBOARD = ("--plugins", "message_bus,log_consumer,log_dashboard")


def stored_i(settings: Settings, name: str) -> tuple[int, int]:
    """(rows, distinct ``extra.i``) of the records the producer marked `` [name]``."""
    with LogStore.open(settings) as store:
        rows = store.conn.execute(
            "SELECT count(*), count(DISTINCT json_extract(extra, '$.i')) FROM logs WHERE message LIKE ?",
            (f"%[{name}]",)).fetchall()
    return int(rows[0][0]), int(rows[0][1])


def db_key(settings: Settings) -> str:
    """The database key file's text."""
    return (settings.keys_dir / "db.key").read_text().strip()


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a backend's store writer and dashboard)."""
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


def kill_backend(backend: Backend) -> None:
    """SIGKILL the backend and its children at once, as a power cut would."""
    assert backend.proc is not None
    for pid in children(backend.proc.pid):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    backend.kill()


class Readers:
    """`aico logs count` run again and again on a thread: every answer's exit status and error kept."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.failures: list[str] = []
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            done = run_aico(self.env, "logs", "count", timeout=120)
            self.runs += 1
            if done.returncode != 0:
                self.failures.append(done.stderr.strip())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(180)


class Tail:
    """`aico logs tail -f -n 1 -o raw` as a child; its lines gathered on a thread. Ready once it showed
    the newest record: what is stored after that, it shows."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([AICO, "logs", "tail", "-f", "-n", "1", "-o", "raw"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()
        try:
            wait_until(lambda: self.lines, timeout=60, message="the tail started")
        except AssertionError:
            raise AssertionError(f"the tail did not start: {self.stop()}") from None

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def seen(self, marker: str) -> int:
        return sum(marker in line for line in list(self.lines))

    def stop(self) -> str:
        """Kill it; what it said on stderr."""
        self.proc.kill()
        self.proc.wait(30)
        self._pumping.join(30)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


def dashboard_finds(env: dict[str, str], marker: str) -> int:
    """How many records the running dashboard's search API finds whose text matches the regex ``marker`` (up to 500)."""
    token = run_aico(env, "dashboard", "token").stdout.strip()
    base = run_aico(env, "dashboard", "url", "--plain").stdout.strip().rstrip("/")
    answer = httpx.get(f"{base}/api/v1/search", params={"grep": marker, "limit": "500"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["records"])


def test_rotating_with_the_backend_running_keeps_every_record_once_and_readers_reading(
        env: dict[str, str], settings: Settings) -> None:
    """Records flow while the key rotates: all stored once; CLI readers started meanwhile never fail; a
    `tail -f` and the dashboard, opened before, go on showing new records; only the new key opens the store."""
    seed_days(settings, datetime.now(UTC), 2, 20000)
    old_key = db_key(settings)
    with Backend(env, *WITH_DASHBOARD):
        assert dashboard_finds(env, "nothing-yet") == 0  # the dashboard's pool holds a connection from here
        tail = Tail(env)
        try:
            app = App(env, "--records", "3000", "--rate", "1000", "--name", "rot-app", "--flush", "90",
                      "--marker", " [rot-app]")
            readers = Readers(env)
            try:
                wait_until(lambda: stored_i(settings, "rot-app")[0] > 300, timeout=60, message="records flowing")
                wait_until(lambda: tail.seen("[rot-app]") > 0, timeout=60, message="the tail following")
                done = run_aico(env, "keys", "rotate", "db", timeout=180)
                assert done.returncode == 0, done.stdout + done.stderr
                assert "database key rotated" in done.stdout
                assert app.wait_for("flushed", timeout=120)["flushed"] is True
            finally:
                readers.stop()
                app.kill()
            assert readers.runs > 0 and readers.failures == [], readers.failures
            assert stored_i(settings, "rot-app") == (3000, 3000)
            after = App(env, "--records", "50", "--name", "after-app", "--flush", "60", "--marker", " [after-app]")
            try:
                assert after.wait_for("flushed", timeout=60)["flushed"] is True
                wait_until(lambda: tail.seen("[after-app]") == 50, timeout=30,
                           message="the tail showing new records")
            finally:
                after.kill()
            assert tail.seen("[rot-app]") == 3000
            assert dashboard_finds(env, "after-app") == 50
        finally:
            alive = tail.proc.poll() is None
            said = tail.stop()
        assert alive, said
    assert db_key(settings) != old_key
    assert not list(settings.keys_dir.glob("db.next*"))
    with_old = run_aico({**env, "AICO_DB_KEY": old_key}, "logs", "count")
    assert with_old.returncode == 3 and with_old.stderr.count("\n") == 1


HOLDER = """
import sys, libsql
conn = libsql.connect(sys.argv[1], encryption_key=sys.argv[2], isolation_level=None)
conn.execute("SELECT count(*) FROM logs").fetchall()
print("holding", flush=True)
sys.stdin.read()
"""


def test_a_connection_that_stays_open_makes_the_rotation_give_up_in_one_line_leaving_the_old_key(
        env: dict[str, str], settings: Settings) -> None:
    """A reader that keeps the store open (an older aico, a SQL shell) past --wait: one line, exit 1, no
    db.next; the old key still opens the store and the backend goes on storing."""
    seed_days(settings, datetime.now(UTC), 1, 100)
    before = db_key(settings)
    with Backend(env, *ONLY_CONSUMER):
        with subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.database_path), before],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
            try:
                assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
                done = run_aico(env, "keys", "rotate", "db", "--wait", "3", timeout=120)
            finally:
                holder.kill()
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "old key still opens it" in done.stderr
        app = App(env, "--records", "20", "--name", "held-app", "--flush", "60", "--marker", " [held-app]")
        try:
            assert app.wait_for("flushed", timeout=60)["flushed"] is True
        finally:
            app.kill()
        assert stored_i(settings, "held-app") == (20, 20)
    assert db_key(settings) == before
    assert not list(settings.keys_dir.glob("db.next*"))


class RotationClock:
    """Where to cut a rotation: timed once whole, then a seeded random point of each run, half of them
    counted from the command's start, half from when ``db.next`` appears (the rekey under way), so the
    cuts land in every part of it even on a loaded machine whose start-up time varies."""

    def __init__(self, env: dict[str, str], settings: Settings) -> None:
        self.env = env
        self.next_key = settings.keys_dir / "db.next.key"
        self.seed = campaign_seed()
        self.rng = random.Random(self.seed)
        self.whole, self.rekey = self._run(None)
        print(f"seed {self.seed}: whole online rotation {self.whole:.2f} s, of which {self.rekey:.2f} s from db.next")
        assert not self.next_key.exists()

    def _run(self, act: float | None, *, phase: str = "start",
             cut: Callable[[subprocess.Popen[str]], None] | None = None) -> tuple[float, float]:
        started = time.monotonic()
        proc = subprocess.Popen([AICO, "keys", "rotate", "db"], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with proc:
            if act is not None and phase == "start":
                try:
                    proc.wait(act)
                except subprocess.TimeoutExpired:
                    assert cut is not None
                    cut(proc)
            else:
                wait_until(lambda: self.next_key.exists() or proc.poll() is not None, timeout=120, interval=0.002,
                           message="the rotation begun")
                began = time.monotonic()
                if act is not None:
                    try:
                        proc.wait(act)
                    except subprocess.TimeoutExpired:
                        assert cut is not None
                        cut(proc)
            out, err = proc.communicate(timeout=180)
            self.outcome = (proc.returncode, out + err)
        if act is None:
            assert proc.returncode == 0, out + err
            return time.monotonic() - started, time.monotonic() - began
        return 0.0, 0.0

    def cut(self, what: Callable[[subprocess.Popen[str]], None]) -> str:
        """Run a rotation and call ``what`` at this round's seeded point (unless it ended first); where it was."""
        phase = self.rng.choice(("start", "db.next"))
        act = self.rng.uniform(0.0, (self.whole if phase == "start" else self.rekey) * 1.1)
        self._run(act, phase=phase, cut=what)
        return f"seed {self.seed}, cut {act:.3f} s after {phase}"


def test_a_rotation_killed_at_any_point_with_the_backend_running_leaves_a_store_that_opens_whole(
        env: dict[str, str], settings: Settings) -> None:
    """SIGKILL of `aico keys rotate db` at seeded random points while records flow: the store always opens,
    the backend goes on storing, every record is there once; the next rotation settles the keys."""
    seed_days(settings, datetime.now(UTC), 2, 10000)
    with Backend(env, *ONLY_CONSUMER):
        clock = RotationClock(env, settings)
        for round_ in range(4):
            name = f"kill-{round_}"
            app = App(env, "--records", "400", "--rate", "400", "--name", name, "--flush", "90",
                      "--marker", f" [{name}]")
            try:
                wait_until(lambda n=name: stored_i(settings, n)[0] > 0, timeout=60, message="records flowing")
                where = clock.cut(lambda rotation: rotation.kill())
                count = run_aico(env, "logs", "count", timeout=120)
                assert count.returncode == 0, f"{where}: {count.stderr}"
                assert app.wait_for("flushed", timeout=120)["flushed"] is True, where
            finally:
                app.kill()
            assert stored_i(settings, name) == (400, 400), where
        assert run_aico(env, "logs", "count").stdout.strip() == str(20000 + 4 * 400)
        assert run_aico(env, "keys", "rotate", "db", timeout=180).returncode == 0
    assert not list(settings.keys_dir.glob("db.next*"))


def test_a_backend_killed_at_any_point_of_a_rotation_leaves_a_store_that_opens_whole(
        env: dict[str, str], settings: Settings) -> None:
    """SIGKILL of the backend (and its store writer) at seeded random points of a rotation while records
    flow: the rotation ends one way or the other, the store opens, and every record is stored once after
    the backend starts again."""
    seed_days(settings, datetime.now(UTC), 2, 10000)
    backend = Backend(env, *ONLY_CONSUMER).start()
    try:
        clock = RotationClock(env, settings)
        for round_ in range(4):
            name = f"cut-{round_}"
            app = App(env, "--records", "400", "--rate", "400", "--name", name, "--flush", "120",
                      "--marker", f" [{name}]")
            try:
                wait_until(lambda n=name: stored_i(settings, n)[0] > 0, timeout=60, message="records flowing")
                where = clock.cut(lambda _, b=backend: kill_backend(b))
                if backend.proc is not None:  # the rotation ended before its cut: the backend dies now
                    kill_backend(backend)
                code, said = clock.outcome
                assert code == 0 and "Traceback" not in said, f"{where}: {said}"
                count = run_aico(env, "logs", "count", timeout=120)
                assert count.returncode == 0, f"{where}: {count.stderr}"
                backend = Backend(env, *ONLY_CONSUMER).start()
                assert app.wait_for("flushed", timeout=180)["flushed"] is True, where
            finally:
                app.kill()
            assert stored_i(settings, name) == (400, 400), where
        assert run_aico(env, "logs", "count").stdout.strip() == str(20000 + 4 * 400)
    finally:
        backend.stop()
    assert not list(settings.keys_dir.glob("db.next*"))
