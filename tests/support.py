"""Test helpers: free ports, isolated homes, polling with a deadline, a real backend process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
VENV_BIN = Path(sys.executable).parent
AICO = str(VENV_BIN / "aico")


def stamp(seconds_ago: float = 0.0, *, offset_hours: float = 0.0) -> str:
    """An ISO-8601 time ``seconds_ago`` before now, written with the given UTC offset.

    Records in tests are stamped relative to the clock: a fixed date turns old as the calendar moves,
    and retention (keeps 30 days, archives after 7) or analytics (keeps 90) then take it away.
    """
    zone = timezone(timedelta(hours=offset_hours)) if offset_hours else UTC
    when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return when.astimezone(zone).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(text: str) -> str:
    """The stored form of an ISO-8601 time: UTC, microseconds, ``Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held open until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
               message: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
        time.sleep(interval)
        last = condition()
    return last


def home_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment for an isolated AICO_HOME on free ports."""
    pub, sub, bridge, dashboard = free_ports(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    env.update({
        "AICO_HOME": str(home),
        "AICO_CORE__MESSAGE_BUS__PUB_PORT": str(pub),
        "AICO_CORE__MESSAGE_BUS__SUB_PORT": str(sub),
        "AICO_CORE__BRIDGE__PORT": str(bridge),
        "AICO_CORE__DASHBOARD__PORT": str(dashboard),
        "AICO_CORE__SECURITY__KEYRING": "false",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def run_aico(env: dict[str, str], *args: str, timeout: float = 60, input: str | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AICO, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)


class Backend:
    """``aico backend start`` as a real child process."""

    def __init__(self, env: dict[str, str], *args: str, name: str = "backend") -> None:
        self.env = env
        self.args = (*args, "--name", name)
        self.name = name
        self.proc: subprocess.Popen[str] | None = None
        self.log = Path(env["AICO_HOME"]) / f"backend-{time.monotonic_ns()}.log"

    def start(self, wait: float = 30.0) -> Backend:
        Path(self.env["AICO_HOME"]).mkdir(parents=True, exist_ok=True)
        fh = self.log.open("w")
        self.proc = subprocess.Popen([AICO, "backend", "start", *self.args], env=self.env, stdout=fh,
                                     stderr=subprocess.STDOUT, text=True)
        fh.close()
        result = run_aico(self.env, "gateway", "status", "--name", self.name, "--wait", str(wait), timeout=wait + 30)
        if result.returncode != 0:
            self.kill()
            raise AssertionError(f"backend did not start:\n{result.stdout}{result.stderr}\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self.proc = None

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill() if exc[0] else self.stop()
