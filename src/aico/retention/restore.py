"""Putting an archived day back into the database, without duplicating anything already there."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from aico.config.settings import Settings
from aico.errors import QueryError, StoreError
from aico.retention import archives
from aico.retention.archive_file import ArchiveReader, verify_archive
from aico.retention.clock import Clock, SystemClock
from aico.schema.timestamps import format_utc
from aico.store.repository import LogStore

BATCH_ROWS = 2000
_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def parse_day(text: str) -> str:
    """``YYYY-MM-DD``, checked to be a real date."""
    try:
        if not _DAY.match(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise QueryError(f"not a day: {text!r} (expected YYYY-MM-DD, e.g. 2026-11-21)") from None


def restore_day(settings: Settings, day: str, *, clock: Clock | None = None) -> dict[str, Any]:
    """Copy the archive of ``day`` back into the store; the archive stays.

    Rows come back under their old ids (restoring twice adds nothing, see
    ``LogStore.insert_archived``). The day is pinned for ``hot_days`` so the next rollover
    does not move it straight back; after that it returns to its archive, unchanged.
    """
    day = parse_day(day)
    path = archives.path_for(settings, day)
    if not path.exists():
        raise StoreError(f"no archive for {day} in {path.parent} (aico logs archive ls lists them)")
    now = (clock or SystemClock()).now()
    with archives.job_lock(settings):
        key = archives.archive_key(settings)
        checked = verify_archive(path, key, expect_day=day)
        restored = 0
        with LogStore.open(settings, writer=True) as store, ArchiveReader(path, key, expect_day=day) as reader:
            columns, lines = reader.columns_and_lines()
            batch: list[str] = []
            for line in lines:
                batch.append(line)
                if len(batch) >= BATCH_ROWS:
                    restored += store.insert_archived(columns, f"[{','.join(batch)}]")
                    batch = []
            if batch:
                restored += store.insert_archived(columns, f"[{','.join(batch)}]")
            until = format_utc(now + timedelta(days=settings.core.logging.retention.hot_days))
            store.pin_day(day, until)
    return {"day": day, "records": checked.records, "restored": restored,
            "already_present": checked.records - restored, "pinned_until": until}
