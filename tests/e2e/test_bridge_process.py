"""The bridge's own process: started and stopped with the backend, started again if it dies, never left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx

from aico.config import load_settings
from aico.store import LogStore

from support import AICO, Backend, run_aico, stamp, wait_until


def bridge_status(env: dict[str, str]) -> dict[str, Any]:
    status = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
    return dict((status.get("plugins") or {}).get("log_bridge") or {})


def running_bridge(env: dict[str, str], not_pid: int | None = None) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        status = bridge_status(env)
        ok = status.get("state") == "running" and status.get("pid") not in (None, not_pid) and "accepted" in status
        return status if ok else None

    return wait_until(ready, timeout=60, interval=0.5, message="the bridge process running")  # each look: a CLI run


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead and not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def post(env: dict[str, str], records: int) -> httpx.Response:
    token = run_aico(env, "bridge", "token").stdout.strip()
    url = f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}/api/v1/logs/batch"
    batch = [{"timestamp": stamp(60), "level": "INFO", "module": "web.app", "function": "f",
              "topic": "ui/x", "message": f"m{i}"} for i in range(records)]
    return httpx.post(url, json=batch, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def stored(env: dict[str, str]) -> int:
    """Records in the store (poll it every 0.2 s or so: each look opens the encrypted store)."""
    with LogStore.open(load_settings(env=env)) as store:
        return store.count()


def test_the_bridge_is_a_process_of_its_own_started_again_if_it_dies_and_stopped_with_the_backend(
        env: dict[str, str]) -> None:
    """The bridge answers from a child process of the backend; killed, it is started again (a second later) and
    takes and stores records again; stopping the backend stops it after its flush.

    One backend for the three (they were two tests, each starting its own backend).
    """
    backend = Backend(env).start()
    try:
        first = running_bridge(env)
        pid = int(first["pid"])
        assert backend.proc is not None and pid != backend.proc.pid and alive(pid)
        assert post(env, 10).json() == {"accepted": 10, "rejected": []}
        wait_until(lambda: stored(env) == 10, timeout=30, interval=0.2, message="10 stored")
        wait_until(lambda: bridge_status(env).get("accepted") == 10, timeout=10, interval=0.5,
                   message="its status to count 10")
        os.kill(pid, signal.SIGKILL)
        second = running_bridge(env, not_pid=pid)
        assert second["restarts"] == 1
        pid = int(second["pid"])
        assert post(env, 50).json()["accepted"] == 50
        wait_until(lambda: stored(env) == 60, timeout=30, interval=0.2, message="the next 50 stored")
    finally:
        assert backend.stop() == 0
    assert not alive(pid)


def test_the_bridge_process_leaves_when_the_backend_is_killed(env: dict[str, str]) -> None:
    """SIGKILL of the backend closes the bridge's stdin: it flushes and exits on its own, never an orphan."""
    backend = Backend(env).start()
    pid = int(running_bridge(env)["pid"])
    backend.kill()
    wait_until(lambda: not alive(pid), timeout=60, interval=0.1, message="the bridge process gone")


def test_a_port_in_use_fails_the_start_with_the_reason(env: dict[str, str]) -> None:
    """Another program on the bridge's port: the backend does not start, and says which address and setting."""
    port = int(env["AICO_CORE__BRIDGE__PORT"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run([AICO, "backend", "start", "--plugins", "message_bus,log_bridge"], env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "core.bridge.port" in done.stderr, done.stderr
