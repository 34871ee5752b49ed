"""Searching the archives with the live store's filter model (``aico logs ls --archives``)."""

from __future__ import annotations

from collections import deque
from typing import Any

from aico.config.settings import Settings
from aico.retention.archives import iter_archive_records
from aico.store.filters import LogFilter, matches


def search_archives(settings: Settings, flt: LogFilter, limit: int | None) -> list[dict[str, Any]]:
    """The newest ``limit`` archived records (None: all) that pass ``flt``, oldest first.

    Whole day files outside ``since``/``until`` are skipped unopened; each record inside is
    checked with the same ``matches`` the live store's results agree with.
    """
    newest: deque[dict[str, Any]] = deque(maxlen=limit)
    for record in iter_archive_records(settings, since=flt.since, until=flt.until):
        if matches(record, flt):
            newest.append(record)
    return list(newest)
