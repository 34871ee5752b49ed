"""End-to-end fixtures: real processes, real sockets, a real encrypted store."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

APP = str(Path(__file__).with_name("producer_app.py"))
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is marked ``e2e`` (``make check`` runs the rest: -m "not e2e")."""
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


def run_app(env: dict[str, str], *args: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Run the e2e producer application to completion; its JSON lines."""
    done = subprocess.run([sys.executable, APP, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


class App:
    """The e2e producer application as a running child; its JSON lines read by a thread."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, APP, *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def wait_for(self, key: str, until: Any = None, timeout: float = 120) -> dict[str, Any]:
        """The first JSON line with ``key`` (whose whole line satisfies ``until``); fail at the deadline or end."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the app did not say {key!r} within {timeout}s (last: {self.seen[-1:]})")
            try:
                data = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if data is None:
                err = self.proc.stderr.read() if self.proc.stderr and not self.proc.stderr.closed else ""
                raise AssertionError(f"the app ended before saying {key!r}: {err}")
            self.seen.append(data)
            if key in data and (until is None or until(data)):
                return data


    def send_line(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL if still running; always release the pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


@pytest.fixture(autouse=True)
def _e2e_marker(request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.e2e)
