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
import threading
from typing import Any

from aico.backend.child import Backoff, Child, close_stream, say
from aico.config.settings import Settings
from aico.errors import BackendError
from aico.extras import require

START_TIMEOUT_S = 60.0  # a loaded machine takes a while to import uvicorn and FastAPI
STOP_MARGIN_S = 20.0  # beyond the producer's flush timeout: the server's graceful shutdown and exit
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)
STEADY_S = 60.0  # a process that ran this long resets the restart delay


class LogBridgePlugin:
    """A server in a child process, started, watched and restarted; the dashboard's plugin reuses it."""

    name = "log_bridge"
    label = "bridge"
    process_module = "aico.bridge.process"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg: Any = settings.core.bridge
        self.port = self.cfg.port
        self.child: Child | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._watcher: threading.Thread | None = None
        self._error: str | None = None
        self._reported: dict[str, Any] = {}  # the last status the process sent
        self._backoff = Backoff(RESTART_DELAYS_S, STEADY_S)
        self.restarts = 0
        self._state = "stopped"

    # -- the container's side --------------------------------------------------------------
    def start(self) -> None:
        require(f"plugin {self.name}", "fastapi", "uvicorn")
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
            child = self.child
        if child is not None:
            child.stop(self.settings.core.logging.producer.flush_timeout_s + STOP_MARGIN_S,
                       ask=lambda: close_stream(child.proc.stdin))
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(10)
        if self._state != "failed":
            self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state, reported = self._state, self._reported
        if state == "running":
            if not self._alive() or reported.get("state", "running") != "running":
                state = "failed"  # a new process follows in a moment: see restarts
            elif not reported:
                state = "starting"
        host = f"[{self.cfg.host}]" if ":" in self.cfg.host else self.cfg.host
        out: dict[str, Any] = {"state": state, "host": self.cfg.host, "port": self.port,
                               "url": f"http://{host}:{self.port}", "restarts": self.restarts}
        out.update({k: v for k, v in reported.items() if k != "state"})
        if self.child is not None:
            out["pid"] = self.child.pid
        return out

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The running (or last) process."""
        return self.child.proc if self.child is not None else None

    # -- the process -----------------------------------------------------------------------
    def _spawn(self) -> None:
        """Start a server process and a thread reading what it says (call with the lock held)."""
        self._ready.clear()
        self._error = None
        self._reported = {}
        child = Child.python(self.process_module, label=self.label, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        child.feed(self.settings.model_dump_json().encode() + b"\n")
        self.child = child
        self._watcher = threading.Thread(target=self._watch, args=(child,), name=f"aico-{self.label}-watch",
                                         daemon=True)
        self._watcher.start()

    def _watch(self, child: Child) -> None:
        """Read the process's messages until it exits; then start a new one after a backoff (unless stopping)."""
        assert child.proc.stdout is not None
        for line in child.proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "status" in message:
                self._reported = message["status"]
            elif "ready" in message:
                self.port = int(message["ready"]["port"])
                self._ready.set()
            elif "error" in message:
                self._error = str(message["error"])
                self._ready.set()
        code = child.wait()
        close_stream(child.proc.stdout)
        self._ready.set()
        if self._stopping.is_set() or self._state != "running":
            return  # stopped, or a failed start: start() reports it
        delay = self._backoff.next(child.ran_for())
        self.restarts += 1
        reason = f": {self._error}" if self._error else ""
        say(self.label, f"the {self.label} process exited (code {code}{reason}); starting it again in {delay:.0f} s")
        if self._stopping.wait(delay):
            return
        with self._lock:
            if not self._stopping.is_set():
                close_stream(child.proc.stdin)
                self._spawn()

    def _alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def _exit_code(self) -> int | None:
        return self.child.exit_code() if self.child is not None else None


def create(settings: Settings) -> LogBridgePlugin:
    return LogBridgePlugin(settings)
