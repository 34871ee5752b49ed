"""Zero loss: every record arrives exactly once, through bursts, crashes and restarts.

The burst is 400,000 records here; the 1,000,000 of README runs in ``make soak`` (``BURST``).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from test_spine import raw_publisher

from aico.config import load_settings
from aico.store import LogStore

from conftest import App, run_app
from support import Backend, stamp, wait_until


def indexes(env: dict[str, str]) -> list[int]:
    """The record index of every stored record (from extra.i), sorted."""
    with LogStore.open(load_settings(env=env)) as store:
        return sorted(int(r["i"]) for r in store.iter_rows("SELECT extra->>'i' AS i FROM logs"))


def count(env: dict[str, str]) -> int:
    try:
        with LogStore.open(load_settings(env=env)) as store:
            return store.count()
    except Exception:  # noqa: BLE001 - the store is not there (or not readable) yet: poll again
        return 0


def test_backend_sigkill_mid_stream_then_restart(env: dict[str, str]) -> None:
    """SIGKILL of the backend while 200,000 records stream in: after a restart, exactly those 200,000."""
    backend = Backend(env).start()
    app = App(env, "--records", "200000", "--threads", "2", "--flush", "180")
    try:
        wait_until(lambda: count(env) >= 30000, timeout=120, message="30,000 stored before the kill")
        backend.kill()
        backend = Backend(env).start()
        done = app.wait_for("flushed", timeout=240)
        assert done["flushed"] is True
        assert indexes(env) == list(range(200000))
    finally:
        app.kill()
        backend.kill()


def test_application_logs_before_the_backend_exists(env: dict[str, str]) -> None:
    """An application that logs for 10 s before the backend starts loses nothing."""
    app = App(env, "--records", "5000", "--threads", "2", "--rate", "250", "--flush", "120")
    try:
        logged = app.wait_for("logged", timeout=60)  # 2 threads x 2,500 records at 250/s: 10 s of logging
        assert logged["stats"]["acknowledged"] == 0
        with Backend(env):
            assert app.wait_for("flushed")["flushed"] is True
            assert indexes(env) == list(range(5000))
    finally:
        app.kill()


def test_broker_alone_restarted_mid_stream(env: dict[str, str]) -> None:
    """The broker process is stopped and started again while records flow: nothing is lost."""
    broker = Backend(env, "--plugins", "message_bus", name="broker").start()
    collector = Backend(env, "--plugins", "log_consumer", name="collector").start()
    app = App(env, "--records", "60000", "--threads", "2", "--rate", "4000", "--flush", "120")
    try:
        wait_until(lambda: count(env) >= 10000, timeout=60, message="10,000 stored before the restart")
        broker.kill()
        stored_while_down = count(env)
        broker = Backend(env, "--plugins", "message_bus", name="broker").start()
        assert app.wait_for("flushed", timeout=180)["flushed"] is True
        assert stored_while_down < 60000
        assert indexes(env) == list(range(60000))
    finally:
        app.kill()
        collector.kill()
        broker.kill()


def test_producer_sigkill_with_unacknowledged_records(env: dict[str, str]) -> None:
    """A producer killed holding sent, unacknowledged records: restarted on the same spool, all arrive once."""
    backend = Backend(env).start()
    app = App(env, "--records", "5000", "--name", "held", "--go", "--hold", "--progress", "0.05")
    try:
        assert app.wait_for("ready")["ready"] is True  # connected, its warm-up record stored
        backend.proc.send_signal(signal.SIGSTOP)  # the collector freezes: nothing is acknowledged
        app.send_line("go")
        held = app.wait_for("logged")  # with --hold: said once all 5,000 are sent
        assert held["stats"]["sent"] == 5001 and held["stats"]["acknowledged"] == 1
    finally:
        app.kill()  # SIGKILL: no at-exit flush, no clean close
        backend.proc.send_signal(signal.SIGCONT)
    spool = Path(env["AICO_HOME"]) / "spool" / "held"
    assert list(spool.glob("seg-*.enc")), "the unacknowledged records are in the spool"
    try:
        again = run_app(env, "--records", "0", "--name", "held", "--flush", "60")
        assert again[-1]["flushed"] is True
        assert indexes(env) == [-1, *range(5000)]
    finally:
        backend.stop()
    assert not list(spool.glob("seg-*.enc")), "an acknowledged spool is emptied"


def test_clean_exit_with_the_bus_down_keeps_records_for_next_start(env: dict[str, str]) -> None:
    """At exit the library flushes within its deadline, and leaves what it could not send spooled."""
    env = {**env, "AICO_CORE__LOGGING__PRODUCER__FLUSH_TIMEOUT_S": "1"}
    started = time.monotonic()
    out = run_app(env, "--records", "300", "--name", "exit-test", "--flush", "0")  # exit relies on atexit
    assert time.monotonic() - started < 20
    assert out[-1]["flushed"] is None
    assert list((Path(env["AICO_HOME"]) / "spool" / "exit-test").glob("seg-*.enc"))
    with Backend(env):
        assert run_app(env, "--records", "0", "--name", "exit-test")[-1]["flushed"] is True
        assert indexes(env) == list(range(300))


#: The burst: 400,000 records in make test, twice what the producer may hold in memory (the queue's 20,000
#: and the backlog's 100,000 records; the window keeps seqs only), so most of it waits on disk as a longer
#: burst's would. ``make soak`` runs it again with 1,000,000 (``AICO_BURST_RECORDS``), the figure in README.
BURST = int(os.environ.get("AICO_BURST_RECORDS") or 400_000)


def test_burst_with_bounded_memory(env: dict[str, str]) -> None:
    """A burst of records (``BURST``) as fast as one process can log them: none lost, producer memory stays bounded."""
    # A million records take ~700 MB in the store: past the default size cap (100 MB), the retention
    # check (every 60 s) archives them early on a slow machine, and the live count is then short.
    env = {**env, "AICO_CORE__LOGGING__RETENTION__MAX_SIZE_MB": "100000"}
    with Backend(env):
        out = run_app(env, "--records", str(BURST), "--threads", "2", "--flush", "300", "--progress", "1", timeout=600)
        trace = [(p["rss_kb"] // 1024, p["progress"]["queued"], p["progress"]["backlog"], p["progress"]["inflight"],
                  p["progress"]["spool_bytes"] // 2**20) for p in out if "progress" in p]
        assert out[-1]["flushed"] is True
        stats = out[-1]["stats"]
        assert stats["acknowledged"] == BURST and stats["dropped_total"] == 0
        # The bound this project states for a producer: 512 MiB. Measured peaks (1,000,000 records): 77-80 MiB
        # (78,360 and 82,008 KiB) with a window of 20,000; 84 MiB (86,004 KiB) with 100,000 and a backlog of
        # 100,000; 68 MiB (69,420 KiB) once the window kept seqs only, not the records; 113 MiB
        # while the store was stalled (window full, the rest on disk; 155 MiB before). Before the
        # collector stopped spinning while its writer was busy, a loaded suite saw final-flush peaks
        # of 210-475 MiB; the trace below says where a peak happens if one comes back.
        assert out[-1]["maxrss_kb"] < 512 * 1024, (
            f"producer peak RSS {out[-1]['maxrss_kb']} KiB; (rss MB, queued, backlog, inflight, spool MB): {trace}")
        assert count(env) == BURST
        assert indexes(env) == list(range(BURST))


def test_malformed_messages_interleaved_with_good_ones(env: dict[str, str]) -> None:
    """Bad payloads among good ones: every good record stored, every bad one rejected with a reason."""
    good = [json.dumps({"timestamp": stamp(60), "level": "INFO", "module": "raw", "function": "f",
                        "topic": "t", "message": f"good {i}", "producer_id": "raw-1", "seq": i + 1,
                        "extra": {"i": i}}).encode() for i in range(1000)]
    bad = [b"{", b"\xff\xfe\x00", b'{"level": "INFO"}', b"[]", json.dumps({"timestamp": "yesterday"}).encode()]
    with Backend(env):
        pub = raw_publisher(env)
        try:
            def first_stored() -> bool:
                pub.send_multipart([b"logs.raw.t", good[0]])
                return count(env) == 1

            wait_until(first_stored, timeout=20, interval=0.05, message="the subscription")
            for i in range(1, 1000):
                # a bad payload in the same multipart message as a good one, and bad messages of their own
                pub.send_multipart([b"logs.raw.t", bad[i % len(bad)], good[i]])
                if i % 100 == 0:
                    pub.send_multipart([b"logs.raw.t", b"\x0a\x05"])
            wait_until(lambda: count(env) == 1000, timeout=30, message="all good records")
            with LogStore.open(load_settings(env=env)) as store:
                wait_until(lambda: store.count_rejects() == 999 + 9, timeout=30, message="all rejects")
                reasons = [r["reason"] for r in store.rejects(limit=2000)]
        finally:
            pub.close()
    assert indexes(env) == list(range(1000))
    assert all(reasons), "every reject has its reason"
    for kind in ("malformed JSON", "malformed protobuf", "timestamp: not an ISO-8601 timestamp", "is required"):
        assert any(kind in r for r in reasons), kind
