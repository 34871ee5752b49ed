"""What every benchmark needs to run a backend of its own: free ports, an isolated home, the
backend process itself, and a cheap look at how far its store has got."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def case_env(home: Path, **overrides: str) -> dict[str, str]:
    """An environment for a backend in ``home`` on free bus and bridge ports, no OS keyring."""
    pub, sub, bridge, dashboard = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    env.update({"AICO_HOME": str(home), "AICO_CORE__MESSAGE_BUS__PUB_PORT": str(pub),
                "AICO_CORE__MESSAGE_BUS__SUB_PORT": str(sub), "AICO_CORE__BRIDGE__PORT": str(bridge),
                "AICO_CORE__DASHBOARD__PORT": str(dashboard),
                "AICO_CORE__SECURITY__KEYRING": "false"})
    env.update(overrides)
    return env


@contextmanager
def running_backend(env: dict[str, str], plugins: str | None = None,
                    aico: list[str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``aico backend start`` (all default plugins, or ``plugins``), ready when this yields,
    stopped with SIGTERM (its clean shutdown) when the block ends. ``aico`` is how to run the
    command (``baseline.aico_argv``: a baseline revision's); by default the installed one."""
    aico = aico or [str(BIN / "aico")]
    args = [*aico, "backend", "start", *(["--plugins", plugins] if plugins else [])]
    backend = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([*aico, "gateway", "status", "--wait", "30"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        yield backend
    finally:
        backend.send_signal(signal.SIGTERM)
        backend.wait(60)


class StoreProbe:
    """How far the store has got, read cheaply while a benchmark runs: the newest id (an
    index lookup) on one read connection, not count(*), which scans the table and would take
    the CPU of the system being measured. The exact count is read once, at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        from aico.config import load_settings

        self.settings = load_settings(env=env)
        self.store: Any = None

    def newest_id(self) -> int:
        from aico.store import LogStore

        try:
            if self.store is None:
                self.store = LogStore.open(self.settings)
            return int(self.store.max_id())
        except Exception:  # noqa: BLE001 - the store is not there (or not readable) yet: nothing stored so far
            return 0

    def wait_for(self, total: int, stall_s: float = 30.0) -> tuple[int, float]:
        """Poll until ``total`` records are stored, or none came for ``stall_s``; returns the
        exact count then and the perf_counter time the last of them was seen."""
        last, last_change = 0, time.perf_counter()
        while True:
            n = self.newest_id()  # ids have no gaps in a benchmark's fresh store
            now = time.perf_counter()
            if n != last:
                last, last_change = n, now
            if n >= total or now - last_change > stall_s:
                break
            time.sleep(0.05)  # polling the store while the benchmark runs
        return (int(self.store.count()) if self.store is not None else 0), last_change

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
