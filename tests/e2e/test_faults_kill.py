"""Fault campaign, processes: the backend, the store writer, the bridge process, a producer and the broker each
killed with SIGKILL at a seeded random point of a stream; the clock stepped back and forward. Every case ends
with every record stored exactly once and the services up.

The seed is printed (shown with a failure); ``AICO_FAULT_SEED=<seed>`` replays it, ``AICO_FAULT_ROUNDS=N``
tries N points per case (default 1: CI stays short).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from test_bridge_process import running_bridge
from test_zero_loss import count, indexes

from faults_support import campaign_seed, child_pid, rounds

from conftest import App, run_app
from support import Backend, run_aico, stamp, wait_until

CORE = ("--plugins", "message_bus,log_consumer")


@pytest.fixture
def rng() -> random.Random:
    return random.Random(campaign_seed())


def test_backend_sigkill_at_random_points(env: dict[str, str], rng: random.Random) -> None:
    """The backend SIGKILLed at seeded points of a stream, then started again: every record stored exactly once."""
    total = 8000
    points = sorted(rng.sample(range(500, total - 2000), rounds()))
    backend = Backend(env, *CORE).start()
    app = App(env, "--records", str(total), "--rate", "3000", "--flush", "180")
    try:
        for point in points:
            wait_until(lambda p=point: count(env) >= p, timeout=120, message=f"{point} stored before the kill")
            backend.kill()
            backend = Backend(env, *CORE).start()
        assert app.wait_for("flushed", timeout=240)["flushed"] is True
        assert indexes(env) == list(range(total)), f"killed at {points}"
    finally:
        app.kill()
        backend.kill()


def test_store_writer_sigkill_at_random_points(env: dict[str, str], rng: random.Random) -> None:
    """The store writer process SIGKILLed at seeded points: the collector starts a new one, nothing lost or doubled."""
    total = 8000
    points = sorted(rng.sample(range(500, total - 2000), rounds()))
    with Backend(env, *CORE) as backend:
        assert backend.proc is not None
        app = App(env, "--records", str(total), "--rate", "3000", "--flush", "180")
        try:
            for point in points:
                try:
                    wait_until(lambda p=point: count(env) >= p, timeout=120, message=f"{point} stored before the kill")
                except AssertionError as exc:
                    status = run_aico(env, "gateway", "status", "--json").stdout
                    raise AssertionError(f"{exc}\n{status}\n{backend.output()[-3000:]}\n{app.seen[-2:]}") from None
                try:
                    writer = wait_until(lambda: child_pid(backend.proc.pid, "aico.collector.writer"), timeout=30,
                                        message="the writer process")
                except AssertionError as exc:
                    status = run_aico(env, "gateway", "status", "--json").stdout
                    raise AssertionError(f"{exc}\n{status}\n{backend.output()[-3000:]}") from None
                os.kill(writer, signal.SIGKILL)
            done = app.wait_for("flushed", timeout=240)
            assert done["flushed"] is True, (points, done, count(env), backend.output()[-2000:])
            assert indexes(env) == list(range(total)), f"killed at {points}"
            assert backend.proc.poll() is None, "the backend stays up"
            wait_until(lambda: child_pid(backend.proc.pid, "aico.collector.writer") not in (None, writer),
                       timeout=30, message="a new writer running")
        finally:
            app.kill()


def test_producer_sigkill_at_a_random_point(env: dict[str, str], rng: random.Random) -> None:
    """A producer SIGKILLed at a seeded point, then started again on its spool: what it logged up to what it had
    acknowledged arrives, in order, once; nothing is stored twice."""
    total = 8000
    point = rng.randrange(200, total - 1000)
    with Backend(env, *CORE):
        app = App(env, "--records", str(total), "--rate", "2000", "--name", "victim", "--progress", "0.05")
        try:
            last = app.wait_for("progress", until=lambda d: d["progress"]["produced"] >= point, timeout=120)
        finally:
            app.kill()
        again = run_app(env, "--records", "0", "--name", "victim", "--flush", "60")
        assert again[-1]["flushed"] is True
        stored = indexes(env)
        # one thread logs in order: what is stored is a prefix, at least what was acknowledged before the kill
        assert stored == list(range(len(stored))), f"killed after {point} records"
        assert len(stored) >= last["progress"]["acknowledged"]


def test_broker_sigkill_at_a_random_point(env: dict[str, str], rng: random.Random) -> None:
    """The broker process SIGKILLed at a seeded point and started again: every record stored exactly once."""
    total = 8000
    point = rng.randrange(500, total - 2000)
    broker = Backend(env, "--plugins", "message_bus", name="broker").start()
    collector = Backend(env, "--plugins", "log_consumer", name="collector").start()
    app = App(env, "--records", str(total), "--rate", "3000", "--flush", "180")
    try:
        wait_until(lambda: count(env) >= point, timeout=120, message=f"{point} stored before the kill")
        broker.kill()
        broker = Backend(env, "--plugins", "message_bus", name="broker").start()
        assert app.wait_for("flushed", timeout=240)["flushed"] is True
        assert indexes(env) == list(range(total)), f"killed at {point}"
    finally:
        app.kill()
        collector.kill()
        broker.kill()


class BridgeClient:
    """Sends numbered records to the bridge in batches, each batch again until a 2xx: what a frontend does."""

    def __init__(self, env: dict[str, str], total: int, batch: int = 50) -> None:
        self.url = f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}/api/v1/logs/batch"
        self.headers = {"Authorization": "Bearer " + run_aico(env, "bridge", "token").stdout.strip()}
        self.total, self.batch = total, batch
        self.accepted = 0
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            for first in range(0, self.total, self.batch):
                records = [{"timestamp": stamp(5), "level": "INFO", "module": "web.fault", "function": "f",
                            "topic": "ui/fault", "message": f"bridge rec {i}", "producer_id": "fault-page",
                            "seq": i + 1, "extra": {"i": i}} for i in range(first, min(first + self.batch, self.total))]
                while True:
                    try:
                        answer = http.post(self.url, json=records, headers=self.headers)
                    except httpx.HTTPError:
                        self.errors += 1
                        continue
                    self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
                    if answer.status_code < 300:
                        assert answer.json()["rejected"] == []
                        self.accepted += len(records)
                        break


def test_bridge_process_sigkill_at_random_points(env: dict[str, str], rng: random.Random) -> None:
    """The bridge process SIGKILLed at seeded points while a client posts: the backend starts it again, every
    record the client sent is stored exactly once, and no answer was a 5xx."""
    total = 6000
    points = sorted(rng.sample(range(300, total - 1000), rounds()))
    with Backend(env, "--plugins", "message_bus,log_consumer,log_bridge") as backend:
        assert backend.proc is not None
        pid = running_bridge(env)["pid"]
        client = BridgeClient(env, total)
        client.thread.start()
        for point in points:
            wait_until(lambda p=point: client.accepted >= p, timeout=120, message=f"{point} accepted before the kill")
            os.kill(pid, signal.SIGKILL)
            pid = running_bridge(env, not_pid=pid)["pid"]
        client.thread.join(300)
        assert client.accepted == total
        assert not [code for code in client.statuses if code >= 500], client.statuses
        wait_until(lambda: count(env) >= total, timeout=120, message=f"{total} stored (killed at {points})")
        assert indexes(env) == list(range(total)), f"killed at {points}"


def test_backend_sigkill_the_next_bridge_takes_the_last_ones_spool_over(env: dict[str, str]) -> None:
    """The backend SIGKILLed while a client posts to the bridge: that bridge stops serving and flushes, holding its
    spool; the next backend's bridge waits for that spool and takes it over (it held a second one beside it, where
    what the last one had answered 2xx for waited for some later start), so every record is stored once."""
    total = 3000
    env["AICO_CORE__LOGGING__PRODUCER__FLUSH_TIMEOUT_S"] = "12"  # the last bridge holds its spool that long
    backend = Backend(env, "--plugins", "message_bus,log_consumer,log_bridge").start()
    collector = None
    try:
        client = BridgeClient(env, total)
        client.thread.start()
        wait_until(lambda: client.accepted >= 1000, timeout=120, message="1000 accepted before the kill")
        backend.kill()
        # no collector at first: the last bridge cannot flush, so it still holds its spool while the next one starts
        backend = Backend(env, "--plugins", "message_bus,log_bridge", name="bus-and-bridge").start(wait=60)
        collector = Backend(env, "--plugins", "log_consumer", name="collector").start()
        client.thread.join(300)
        assert client.accepted == total
        wait_until(lambda: count(env) >= total, timeout=120, message=f"{total} stored")
        assert indexes(env) == list(range(total))
        assert not (Path(env["AICO_HOME"]) / "spool" / "log_bridge.2").exists()
    finally:
        backend.kill()
        if collector is not None:
            collector.kill()


# -- the clock stepped ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def clockshift(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wall-clock shim (tests/clockshift), built here; skip, saying why, without a C compiler."""
    built = Path(__file__).parents[2] / ".venv" / "clockshift.so"
    if built.exists():
        return built
    out = tmp_path_factory.mktemp("clockshift") / "clockshift.so"
    source = Path(__file__).parents[1] / "clockshift" / "clockshift.c"
    try:
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(out), str(source), "-ldl"], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot build the clock shim tests/clockshift/clockshift.c: {exc}")
    return out


@pytest.mark.clock
def test_clock_stepped_back_and_forward(env: dict[str, str], clockshift: Path) -> None:
    """The wall clock stepped a day forward, then two days back, under the backend (retention and analytics on)
    and the producer: each step a restart with a new shift; every record is stored exactly once, none expired."""
    # A step needs a new process: the shim reads its shift once. So each part of the run is a new backend
    # (the old one SIGKILLed) and a new producer (same name, so same id and spool) with the clock moved.
    base = float(os.environ.get("CLOCKSHIFT_SECONDS", "0"))  # make test-clock shifts the whole run too
    env.update({"LD_PRELOAD": str(clockshift), "AICO_CORE__ANALYTICS__FIRST_RUN_DELAY_S": "0",
                "AICO_CORE__ANALYTICS__THREADS": "1"})
    per_step = 1000
    backend = None
    try:
        for step, shift in enumerate((0, 86400, -86400)):
            env["CLOCKSHIFT_SECONDS"] = str(int(base + shift))
            if backend is not None:
                backend.kill()
            backend = Backend(env).start()
            out = run_app(env, "--records", str(per_step), "--start", str(step * per_step), "--name", "clocked",
                          "--rate", "3000", "--flush", "120")
            assert out[-1]["flushed"] is True, f"step {step} (shift {shift} s)"
        archived = run_aico(env, "logs", "archive", "ls", "--json")
        assert archived.returncode == 0, archived.stderr
        assert indexes(env) == list(range(3 * per_step))
        assert backend.stop() == 0
    finally:
        if backend is not None:
            backend.kill()
