"""Plugin ``log_bridge``: the frontend bridge, in a process of its own that the backend runs.

The bridge's process (``process.py``) holds uvicorn and one relaying ``Producer`` (name
``log_bridge``) that takes every accepted record: its spool keeps them across a restart,
and its acknowledgements tell it what is stored. Its own GIL keeps the HTTP work from
stalling the collector, and the collector's from stalling the bridge.

The plugin starts it and waits until it listens (or says why it cannot), keeps its last
status, starts it again if it exits on its own (waiting longer after each failure), and
stops it by closing its stdin: it then stops taking requests and flushes. The same end of
file reaches it if the backend dies, so it never outlives the backend by more than its flush.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import IO, Any

from aico.config.settings import Settings
from aico.errors import BackendError
from aico.stderr import say

START_TIMEOUT_S = 60.0  # a loaded machine takes a while to import uvicorn and FastAPI
STOP_MARGIN_S = 20.0  # beyond the producer's flush timeout: the server's graceful shutdown and exit
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STEADY_S = 60.0  # a process that ran this long resets the restart delay


def _say(message: str, label: str = "bridge") -> None:
    say(message, prefix=f"[aico {label}]")


class LogBridgePlugin:
    """A server in a child process, started, watched and restarted; the dashboard's plugin reuses it."""

    name = "log_bridge"
    label = "bridge"
    process_module = "aico.bridge.process"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg: Any = settings.core.bridge
        self.port = self.cfg.port
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._watcher: threading.Thread | None = None
        self._error: str | None = None
        self._child: dict[str, Any] = {}  # the last status the process sent
        self._quick_exits = 0  # exits in a row soon after a start: how long to wait before the next
        self.restarts = 0
        self._state = "stopped"

    # -- the container's side --------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        with self._lock:
            self._spawn()
        self._ready.wait(START_TIMEOUT_S)
        if self._error is not None or not self._alive():
            reason = self._error or ("timeout" if self._alive() else f"exit code {self._exit_code()}")
            self._state = "failed"
            self.stop()
            raise BackendError(f"log {self.label} cannot start: {reason}")
        self._state = "running"

    def stop(self) -> None:
        """Close the process's stdin: it stops taking requests, flushes its producer, exits."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is not None:
            _close(proc.stdin)
            timeout = self.settings.core.logging.producer.flush_timeout_s + STOP_MARGIN_S
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _say(f"the {self.label} process did not stop within {timeout:.0f} s: killed", self.label)
                proc.kill()
                proc.wait(10)
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(10)
        if self._state != "failed":
            self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state, child = self._state, self._child
        if state == "running":
            if not self._alive() or child.get("state", "running") != "running":
                state = "failed"  # a new process follows in a moment: see restarts
            elif not child:
                state = "starting"
        host = f"[{self.cfg.host}]" if ":" in self.cfg.host else self.cfg.host
        out: dict[str, Any] = {"state": state, "host": self.cfg.host, "port": self.port,
                               "url": f"http://{host}:{self.port}", "restarts": self.restarts}
        out.update({k: v for k, v in child.items() if k != "state"})
        if self.proc is not None:
            out["pid"] = self.proc.pid
        return out

    # -- the process -----------------------------------------------------------------------
    def _spawn(self) -> None:
        """Start a bridge process and a thread reading what it says (call with the lock held)."""
        self._ready.clear()
        self._error = None
        self._child = {}
        proc = subprocess.Popen([sys.executable, "-m", self.process_module],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)
        assert proc.stdin is not None
        try:
            proc.stdin.write(self.settings.model_dump_json().encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died at once: the watcher sees its end
        self.proc = proc
        self._watcher = threading.Thread(target=self._watch, args=(proc,), name=f"aico-{self.label}-watch", daemon=True)
        self._watcher.start()

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        started = time.monotonic()
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "status" in message:
                self._child = message["status"]
            elif "ready" in message:
                self.port = int(message["ready"]["port"])
                self._ready.set()
            elif "error" in message:
                self._error = str(message["error"])
                self._ready.set()
        code = proc.wait()
        _close(proc.stdout)
        self._ready.set()
        if self._stopping.is_set() or self._state != "running":
            return  # stopped, or a failed start: start() reports it
        if time.monotonic() - started > STEADY_S:
            self._quick_exits = 0
        delay = RESTART_DELAYS_S[min(self._quick_exits, len(RESTART_DELAYS_S) - 1)]
        self._quick_exits += 1
        self.restarts += 1
        reason = f": {self._error}" if self._error else ""
        _say(f"the {self.label} process exited (code {code}{reason}); starting it again in {delay:.0f} s", self.label)
        if self._stopping.wait(delay):
            return
        with self._lock:
            if not self._stopping.is_set():
                _close(proc.stdin)
                self._spawn()

    def _alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _exit_code(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None


def _close(stream: IO[bytes] | None) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


def create(settings: Settings) -> LogBridgePlugin:
    return LogBridgePlugin(settings)
