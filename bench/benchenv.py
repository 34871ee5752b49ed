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
    """How far the store has got, read cheaply while a benchmark runs: the newest id (the one row
    of ``sqlite_sequence``, which AUTOINCREMENT keeps) on one read connection, not count(*), which
    scans the table and would take the CPU of the system being measured. The exact count is read
    once, at the end. Plain SQL on the file, not ``LogStore``: the store may be a baseline
    revision's, in a layout this tree's reader refuses (``logs`` is a table there, a view here)."""

    def __init__(self, env: dict[str, str]) -> None:
        from aico.config import load_settings

        self.settings = load_settings(env=env)
        self.conn: Any = None

    def newest_id(self) -> int:
        from aico.keys import load_key
        from aico.store.connection import open_database

        try:
            if self.conn is None:
                self.conn = open_database(self.settings.database_path, load_key(self.settings, "db", create=False),
                                          read_only=True)
            row = self.conn.execute("SELECT max(seq) FROM sqlite_sequence WHERE name IN ('logs', 'log_rows')"
                                    ).fetchone()
            return int(row[0] or 0)
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
        count = int(self.conn.execute("SELECT count(*) FROM logs").fetchone()[0]) if self.conn is not None else 0
        return count, last_change

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
