"""Plugin ``log_retention``: runs the retention job in the backend, by itself.

The job runs once at start (catching up on days missed while the backend was down), then
daily at ``run_at`` (UTC), and early whenever a check (every ``check_interval_s``) finds the
database over ``max_size_mb`` or free disk under ``min_free_disk_mb``. It has its own
thread and its own database connection, with short transactions, beside the collector's
writer. ``stop()`` returns as soon as the chunk in hand is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aico.config.settings import Settings
from aico.errors import AicoError
from aico.recursion_guard import infrastructure_thread
from aico.retention.clock import Clock, SystemClock
from aico.retention.job import RetentionJob, RunReport, disk_free
from aico.retention.policy import MIB
from aico.schema.timestamps import format_utc
from aico.stderr import say
from aico.store.ondisk import size_on_disk


def _say(message: str) -> None:
    say(message, prefix="[aico retention]")


class RetentionPlugin:
    name = "log_retention"

    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 disk_free: Callable[[Path], int] = disk_free) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.job = RetentionJob(settings, clock=self.clock, disk_free=disk_free)
        self.interval = settings.core.logging.retention.check_interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "stopped"
        self.runs = 0
        self.archived_days = 0
        self.deleted_rows = 0
        self.last_run: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.next_run_at: datetime | None = None
        self.db_size = 0
        self.disk_free = 0
        self.disk_low = False
        self.over_cap = False

    # -- the plugin contract -------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="aico-log-retention", daemon=True)
        self._thread.start()
        self._state = "running"

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._state = "stopped"

    def wake(self) -> None:
        """Check now instead of at the end of the interval (the clock may have moved)."""
        self._wake.set()

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and not (self._thread and self._thread.is_alive()):
            state = "failed"
        cfg = self.job.policy
        last = self.last_run or {}
        return {
            "state": state,
            "runs": self.runs,
            "last_run_at": last.get("finished_at"),
            "last_reason": last.get("reason"),
            "next_run_at": format_utc(self.next_run_at) if self.next_run_at else None,
            "archived_days": self.archived_days,
            "deleted_rows": self.deleted_rows,
            "last_archived": [a["day"] for a in last.get("archived", [])],
            "last_expired": last.get("expired_days", []),
            "last_early_deleted_archives": last.get("early_deleted_archives", []),
            "db_size_mb": round(self.db_size / MIB, 3),
            "max_size_mb": round(cfg.max_size_bytes / MIB, 3),
            "over_cap": self.over_cap,
            "disk_state": "low" if self.disk_low else "ok",
            "disk_free_mb": round(self.disk_free / MIB, 1),
            "disk_floor_mb": round(cfg.min_free_bytes / MIB, 1),
            "last_error": self.last_error,
        }

    # -- the loop ------------------------------------------------------------------------------
    def _due(self) -> str | None:
        """Why the job should run now, if it should."""
        self.db_size = size_on_disk(self.settings.database_path)
        self.disk_free = self.job.free_bytes()
        self.over_cap = self.db_size > self.job.policy.max_size_bytes
        self.disk_low = self.disk_free < self.job.policy.min_free_bytes
        now = self.clock.now()
        if self.next_run_at is not None and self.next_run_at - now > timedelta(days=1):
            self.next_run_at = self.job.policy.next_run(now)  # the wall clock was stepped back
        if self.next_run_at is not None and now >= self.next_run_at:
            return "schedule"
        if self.over_cap:
            return "size_cap"
        if self.disk_low:
            return "disk_floor"
        return None

    def _loop(self) -> None:
        with infrastructure_thread():
            self.next_run_at = self.job.policy.next_run(self.clock.now())
            reason: str | None = "startup"
            while not self._stop.is_set():
                try:
                    reason = reason or self._due()
                    if reason is not None:
                        self._record(self.job.run(reason, cancel=self._stop.is_set))
                        if reason == "schedule":
                            self.next_run_at = self.job.policy.next_run(self.clock.now())
                except AicoError as exc:
                    self.last_error = str(exc)
                    _say(f"run failed: {exc}")
                except Exception as exc:  # noqa: BLE001 - never let the thread die silently: kept and told
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    _say(f"run failed: {self.last_error}")
                reason = None
                self._wake.wait(self.interval)
                self._wake.clear()

    def _record(self, report: RunReport) -> None:
        self.runs += 1
        self.archived_days += len(report.archived)
        self.deleted_rows += report.deleted_rows
        self.last_run = report.as_dict()
        self.db_size = report.size_after or self.db_size
        self.disk_free = report.disk_free_after
        self.disk_low = report.disk_low
        self.over_cap = report.over_cap
        self.last_error = "; ".join(report.errors) or None
        if report.disk_low and (report.archived or report.early_deleted_archives):
            _say(f"free disk under the floor ({report.disk_free_before // MIB} MiB < {report.disk_floor // MIB} MiB): "
                 f"archived {len(report.archived)} days early, deleted {len(report.early_deleted_archives)} "
                 f"archives early; free now {report.disk_free_after // MIB} MiB")
        if report.errors:
            _say(f"run finished with errors: {self.last_error}")


def create(settings: Settings) -> RetentionPlugin:
    return RetentionPlugin(settings)
