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

from hypothesis import settings as hypothesis_settings

T = TypeVar("T")
FULL_EXAMPLES = 100  # examples per property test under the "full" hypothesis profile (tests/conftest.py)
CHECK_EXAMPLES = 10  # and under "check", the fast tier
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


def examples(full: int) -> int:
    """Examples for a property test that runs ``full`` under the "full" profile: scaled to the loaded profile.

    Read when the test module is imported, after tests/conftest.py (and ``--hypothesis-profile``) chose it.
    """
    return max(1, full * hypothesis_settings.default.max_examples // FULL_EXAMPLES)


def fast_tier() -> bool:
    """True under the "check" hypothesis profile (make check), false under "full" (make test)."""
    return hypothesis_settings.default.max_examples < FULL_EXAMPLES


def canonical(text: str) -> str:
    """The stored form of an ISO-8601 time: UTC, microseconds, ``Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that were free a moment ago (held open until all are chosen).

    A child process configured with them binds them later, and a parallel test may take one in between:
    whoever starts a process on them restarts it on new ones when it says the address is in use
    (``Backend.start``), or binds port 0 itself when the code under test can take that (``Receiver``).
    """
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


PORT_VARS = ("AICO_CORE__MESSAGE_BUS__PUB_PORT", "AICO_CORE__MESSAGE_BUS__SUB_PORT", "AICO_CORE__BRIDGE__PORT",
             "AICO_CORE__DASHBOARD__PORT")
PORT_TAKEN = "address already in use"  # what the backend says (lower-cased) when a port it binds is taken


def new_ports(env: dict[str, str]) -> None:
    """Give ``env`` new free ports (in place: the test's own dict sees them)."""
    env.update(zip(PORT_VARS, map(str, free_ports(len(PORT_VARS))), strict=True))


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    new_ports(env)
    env.update({
        "AICO_HOME": str(home),
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

    def start(self, wait: float = 30.0, attempts: int = 3) -> Backend:
        """Start it and wait until every plugin runs; on new ports (in ``env``) when one it binds is taken."""
        Path(self.env["AICO_HOME"]).mkdir(parents=True, exist_ok=True)
        for attempt in range(1, attempts + 1):
            fh = self.log.open("w")
            self.proc = subprocess.Popen([AICO, "backend", "start", *self.args], env=self.env, stdout=fh,
                                         stderr=subprocess.STDOUT, text=True)
            fh.close()
            status = subprocess.Popen([AICO, "gateway", "status", "--name", self.name, "--wait", str(wait)],
                                      env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # Both at once: the status answers once all runs; the log says at once when a port is taken.
            wait_until(lambda s=status: s.poll() is not None or self.port_taken(), timeout=wait + 30,
                       message="the backend running, or a port taken")
            if status.poll() is None:
                status.kill()
            out, err = status.communicate(timeout=30)
            if status.returncode == 0:
                return self
            self.kill()
            if not self.port_taken() or attempt == attempts:
                raise AssertionError(f"backend did not start:\n{out}{err}\n{self.output()}")
            new_ports(self.env)  # a parallel test took one between choosing and binding: again, on new ones
        return self

    def port_taken(self) -> bool:
        return PORT_TAKEN in self.output().lower()

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
