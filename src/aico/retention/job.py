"""The retention job: expire, roll over, hold the size cap, keep free disk above the floor.

One run, under the job lock:

1. **Retention**: rows and archives of days before ``keep_from`` (``days`` ago) are deleted,
   and rejects older than ``reject_max_days`` (or past ``reject_max_rows``).
2. **Rollover**: each day in the database older than ``hot_days`` (and not pinned by a
   restore) moves to its archive (``rollover.archive_day``); free pages go back to the disk.
3. **Size cap**: while the database on disk is over ``max_size_mb``, the rejects go first
   (they never push a live day out), then the oldest days (hot ones too, as a last resort)
   are archived early, until it is under ``size_target_pct``.
4. **Disk floor**: with less free disk than ``min_free_disk_mb``, every day but today is
   archived, then the oldest archives are deleted early, until the floor is met again.

A day that fails (an archive that cannot be read, a full disk) is reported and skipped;
its rows stay where they are. Nothing here logs through ``aico.logging``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aico.config.settings import Settings
from aico.errors import AicoError
from aico.retention import archives
from aico.retention.clock import Clock, SystemClock
from aico.retention.policy import Policy
from aico.retention.rollover import archive_day
from aico.schema.timestamps import format_utc, now_utc
from aico.store.repository import LogStore


def disk_free(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (for this user)."""
    return shutil.disk_usage(path).free


@dataclass
class RunReport:
    reason: str
    started_at: str
    today: str
    finished_at: str | None = None
    archived: list[dict[str, Any]] = field(default_factory=list)
    expired_days: list[str] = field(default_factory=list)
    expired_rows: int = 0
    pruned_rejects: int = 0  # by age and count
    cap_pruned_rejects: int = 0  # shed to hold the size cap before any day was archived early
    expired_archives: list[str] = field(default_factory=list)
    early_deleted_archives: list[str] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0
    size_cap: int = 0
    over_cap: bool = False
    disk_free_before: int = 0
    disk_free_after: int = 0
    disk_floor: int = 0
    disk_low: bool = False
    store_missing: bool = False
    cancelled: bool = False
    errors: list[str] = field(default_factory=list)
    failed_days: list[str] = field(default_factory=list)

    @property
    def deleted_rows(self) -> int:
        archived: int = sum(a["deleted_rows"] for a in self.archived)
        return self.expired_rows + archived

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "deleted_rows": self.deleted_rows}


class RetentionJob:
    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 disk_free: Callable[[Path], int] = disk_free,
                 open_store: Callable[[], LogStore] | None = None) -> None:
        self.settings = settings
        self.policy = Policy.from_settings(settings)
        self.compression = settings.core.logging.retention.compression
        self.clock = clock or SystemClock()
        self._disk_free = disk_free
        self._cancel: Callable[[], bool] = lambda: False
        self._open_store = open_store or (lambda: LogStore.open(settings, writer=True))

    def free_bytes(self) -> int:
        folder = self.settings.database_path.parent
        return self._disk_free(folder if folder.exists() else self.settings.home)

    def run(self, reason: str = "manual", *, cancel: Callable[[], bool] = lambda: False) -> RunReport:
        """One full run (see the module docstring); raises only if the lock or store cannot be had.

        ``cancel`` is asked between days: when it says yes, the run ends early (cleanly).
        """
        self._cancel = cancel
        now = self.clock.now()
        report = RunReport(reason=reason, started_at=now_utc(), today=now.date().isoformat(),
                           size_cap=self.policy.max_size_bytes, disk_floor=self.policy.min_free_bytes)
        report.disk_free_before = self.free_bytes()
        with archives.job_lock(self.settings):
            archives.remove_temp_files(self.settings)
            if not self.settings.database_path.exists():
                report.store_missing = True
                self._expire_archives(now, report)
                report.disk_free_after = self.free_bytes()
            else:
                with self._open_store() as store:
                    self._run(store, now, report)
        report.finished_at = now_utc()
        return report

    def _run(self, store: LogStore, now: datetime, report: RunReport) -> None:
        report.size_before = store.size_on_disk()
        self._expire(store, now, report)
        consumer = self.settings.core.logging.consumer
        report.pruned_rejects = store.prune_rejects(
            before=format_utc(now - timedelta(days=consumer.reject_max_days)), keep=consumer.reject_max_rows,
            chunk=self.policy.chunk_rows)
        pinned = store.pinned_days(format_utc(now))
        for day in store.days_present(before=self.policy.hot_from(now)):
            if day not in pinned:
                self._archive(store, day, report, early=False)
        store.reclaim()
        self._size_cap(store, report)
        self._disk_floor(store, now, report)
        report.size_after = store.size_on_disk()
        report.over_cap = report.size_after > self.policy.max_size_bytes
        report.disk_free_after = self.free_bytes()

    # -- the steps -----------------------------------------------------------------------------
    def _expire(self, store: LogStore, now: datetime, report: RunReport) -> None:
        keep_from = self.policy.keep_from(now)
        report.expired_days = store.days_present(before=keep_from)
        report.expired_rows = store.delete_before(keep_from, chunk=self.policy.chunk_rows)
        self._expire_archives(now, report)
        store.forget_days([d for d in store.archive_journal() if d < keep_from])

    def _expire_archives(self, now: datetime, report: RunReport) -> None:
        keep_from = self.policy.keep_from(now)
        for day, path in archives.archived_days(self.settings).items():
            if day < keep_from:
                path.unlink(missing_ok=True)
                report.expired_archives.append(day)
        report.expired_days = sorted({*report.expired_days, *report.expired_archives})

    def _archive(self, store: LogStore, day: str, report: RunReport, *, early: bool) -> bool:
        if self._cancel():
            report.cancelled = True
            return False
        try:
            key = archives.archive_key(self.settings, create=True)
            archives.ensure_dir(self.settings)
            result = archive_day(self.settings, store, day, key=key, compression=self.compression,
                                 chunk=self.policy.chunk_rows, early=early)
        except (AicoError, OSError) as exc:
            report.errors.append(f"{day}: {exc}")
            report.failed_days.append(day)
            return False
        report.archived.append(result.as_dict())
        return True

    def _size_cap(self, store: LogStore, report: RunReport) -> None:
        if store.size_on_disk() <= self.policy.max_size_bytes:
            return
        if store.count_rejects():  # rejects are shed before any live day is archived early
            report.cap_pruned_rejects = store.prune_rejects(keep=0, chunk=self.policy.chunk_rows)
            store.reclaim()
        for day in store.days_present():
            if report.cancelled or store.size_on_disk() <= self.policy.target_size_bytes:
                return
            if day not in report.failed_days and self._archive(store, day, report, early=True):
                store.reclaim()

    def _disk_floor(self, store: LogStore, now: datetime, report: RunReport) -> None:
        floor = self.policy.min_free_bytes
        if self.free_bytes() >= floor:
            return
        report.disk_low = True
        for day in store.days_present(before=now.date().isoformat()):
            if day not in report.failed_days and self._archive(store, day, report, early=True):
                store.reclaim()
            if report.cancelled or self.free_bytes() >= floor:
                return
        gone = []
        for day, path in archives.archived_days(self.settings).items():
            if self.free_bytes() >= floor:
                break
            path.unlink(missing_ok=True)
            gone.append(day)
        report.early_deleted_archives.extend(gone)
        store.forget_days(gone)
