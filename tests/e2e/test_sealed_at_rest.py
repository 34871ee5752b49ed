"""No record text on disk: records spooled (library, bridge relay, a kill mid-replay) leave no marker."""

from __future__ import annotations

from pathlib import Path

import httpx
from test_zero_loss import count, indexes

from conftest import App, run_app
from support import Backend, run_aico, stamp, wait_until

MARKER = "MRK-4111111111111111-SEALED"


def files_holding(home: Path, marker: str) -> list[str]:
    """Every file under ``home`` whose bytes hold ``marker``."""
    needle = marker.encode()
    return [str(p) for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_records_spooled_with_the_backend_down_and_a_kill_mid_replay_leave_no_text_on_disk(
        env: dict[str, str]) -> None:
    """Logged with no backend, replayed under a SIGKILL, replayed again: stored once each, no marker on disk."""
    home = Path(env["AICO_HOME"])
    env = {**env, "AICO_CORE__LOGGING__PRODUCER__FLUSH_TIMEOUT_S": "1"}
    out = run_app(env, "--records", "20000", "--name", "sealed", "--flush", "0", "--marker", MARKER)
    assert out[-1]["stats"]["acknowledged"] == 0
    assert list((home / "spool" / "sealed").glob("seg-*.enc")) and not files_holding(home, MARKER)
    backend = Backend(env).start()
    try:
        app = App(env, "--records", "0", "--name", "sealed", "--flush", "120")
        try:
            wait_until(lambda: count(env) > 0, timeout=60, interval=0.1, message="the replay under way")
        finally:
            app.kill()  # SIGKILL mid-replay
        assert not files_holding(home, MARKER)
        assert run_app(env, "--records", "0", "--name", "sealed", "--flush", "120")[-1]["flushed"] is True
        assert indexes(env) == list(range(20000))
    finally:
        backend.stop()
    assert not files_holding(home, MARKER)


def test_records_relayed_by_the_bridge_with_the_collector_down_leave_no_text_on_disk(env: dict[str, str]) -> None:
    """The bridge's relay spool is sealed too: posted while nothing stores, stored once later, no marker on disk."""
    home = Path(env["AICO_HOME"])
    bridge = Backend(env, "--plugins", "log_bridge", name="bridge").start()
    try:
        token = run_aico(env, "bridge", "token").stdout.strip()
        url = f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}/api/v1/logs/batch"
        batch = [{"timestamp": stamp(60), "level": "WARNING", "module": "web.app", "function": "f",
                  "topic": "ui/x", "message": f"card {MARKER} {i}"} for i in range(200)]

        def accepted() -> bool:
            try:
                reply = httpx.post(url, json=batch, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            except httpx.TransportError:
                return False
            return reply.is_success and reply.json()["accepted"] == 200

        wait_until(accepted, timeout=60, interval=0.5, message="the bridge to take the batch")
        wait_until(lambda: list(home.glob("spool/*/seg-*.enc")), timeout=10, message="the relay spool on disk")
        assert not files_holding(home, MARKER)
        with Backend(env, "--plugins", "message_bus,log_consumer", name="store"):
            wait_until(lambda: count(env) == 200, timeout=60, interval=0.2, message="200 stored")
    finally:
        bridge.stop()
    assert not files_holding(home, MARKER)
