"""Plugin ``log_analytics``: runs the ETL on a schedule (hourly by default).

Each run is a child process (``aico analytics etl --json``): libSQL holds the GIL while a
statement runs and DuckDB wants the cores, so the collector in the backend process keeps its
own. Starting the plugin costs one thread; nothing is imported or opened until the first run.
Stopping interrupts a run in progress (SIGINT): its open transaction rolls back, and the next
run resumes from the watermark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from aico.backend.child import Child, say
from aico.config.settings import Settings
from aico.extras import require
from aico.schema.timestamps import from_epoch, now_utc

STOP_GRACE_S = 30.0


class LogAnalyticsPlugin:
    name = "log_analytics"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.interval = settings.core.analytics.interval_s
        self.first_delay = settings.core.analytics.first_run_delay_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._run: Child | None = None
        self._state = "stopped"
        self._next_run = 0.0
        self.runs = 0
        self.failures = 0
        self.last: dict[str, Any] = {}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "aico.cli.main", "analytics", "etl", "--json"]

    def start(self) -> None:
        require(f"plugin {self.name}", "duckdb", "pyarrow")
        self._stop.clear()
        self._next_run = time.monotonic() + self.first_delay  # not the wall clock: it may be stepped
        self._thread = threading.Thread(target=self._loop, name="log-analytics", daemon=True)
        self._thread.start()
        self._state = "running"

    def _loop(self) -> None:
        while not self._stop.wait(max(0.0, self._next_run - time.monotonic())):
            self.run_once()
            self._next_run = time.monotonic() + self.interval

    def run_once(self) -> dict[str, Any]:
        """One ETL run in a child process; its outcome goes to ``status()``."""
        started = now_utc()
        env = {**os.environ, "AICO_HOME": str(self.settings.home)}
        with self._lock:
            if self._stop.is_set():
                return {}
            run = self._run = Child.spawn(self.command(), label="log_analytics", env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
        out, err = run.proc.communicate()
        code = run.proc.returncode
        with self._lock:
            self._run = None
        self.runs += 1
        outcome: dict[str, Any] = {"started_at": started, "finished_at": now_utc(), "exit_code": code}
        if code == 0:
            try:
                result = json.loads(out)
                outcome.update({k: result[k] for k in ("loaded", "scanned", "watermark_to", "seconds")})
            except (ValueError, KeyError):
                outcome["error"] = "unreadable output from the ETL run"
        else:
            self.failures += 1
            outcome["error"] = (err.strip().splitlines() or [f"exit code {code}"])[-1]
            if not self._stop.is_set():
                say(self.name, f"ETL run failed: {outcome['error']}")
        self.last = outcome
        return outcome

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            run = self._run
        if run is not None:
            run.stop(STOP_GRACE_S, ask=signal.SIGINT)  # a run rolls back on SIGINT
        if self._thread is not None:
            self._thread.join(STOP_GRACE_S)
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and self._thread is not None and not self._thread.is_alive():
            state = "failed"
        return {
            "state": state,
            "busy": self._run is not None,
            "runs": self.runs,
            "failures": self.failures,
            "next_run_in_s": round(max(0.0, self._next_run - time.monotonic()), 1) if state == "running" else None,
            # the same as a time: the status file is written when a figure changes, and a reader
            # (aico gateway status) counts down from this one (backend/status.py)
            "next_run_at": from_epoch(time.time() + max(0.0, self._next_run - time.monotonic()))
            if state == "running" else None,
            "last_run": self.last or None,
        }


def create(settings: Settings) -> LogAnalyticsPlugin:
    return LogAnalyticsPlugin(settings)
