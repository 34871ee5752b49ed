"""Moving one day from the database to its archive, so that a crash anywhere loses nothing.

The steps, each safe to be killed after:

1. Read the day's rows with ``id <= hi`` (``hi`` = the highest id now; rows the collector
   adds meanwhile have higher ids and are left alone), merged with the day's existing
   archive if there is one (late records of an archived day, or a rerun after a crash).
2. Write ``.logs-DAY.arc.tmp``, fsync it, read it back and check count and checksum.
3. Rename it over ``logs-DAY.arc`` (atomic) and fsync the folder.
4. Delete those rows in short chunks; the first chunk's transaction also records the
   archive (file, count, checksum) in ``archive_days``.

A rerun after a kill between 3 and 4 finds the rows in both places: the merge drops the
copies (same id, same content), the archive is kept as it is, and the rows are deleted.
"""

from __future__ import annotations

import heapq
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aico.config.settings import Settings
from aico.errors import StoreError
from aico.retention import archives
from aico.retention.archive_file import ArchiveReader, Summary, verify_archive, write_archive
from aico.schema.timestamps import now_utc
from aico.store.days import ARCHIVE_COLUMNS
from aico.store.repository import LogStore

_TS = ARCHIVE_COLUMNS.index("timestamp")
_PRODUCER = ARCHIVE_COLUMNS.index("producer_id")
_SEQ = ARCHIVE_COLUMNS.index("seq")

Item = tuple[tuple[str, int], tuple[str, int] | None, str]  # ((timestamp, id), (producer_id, seq), json row)


def _stamp(producer: str | None, seq: int | None) -> tuple[str, int] | None:
    return (producer, seq) if producer is not None and seq is not None else None


@dataclass(frozen=True)
class DayResult:
    day: str
    records: int
    new_records: int
    deleted_rows: int
    file_bytes: int
    early: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _archived_items(reader: ArchiveReader) -> Iterator[Item]:
    columns, lines = reader.columns_and_lines()
    same_shape = columns == list(ARCHIVE_COLUMNS)
    for line in lines:
        row = json.loads(line)
        if not same_shape:  # an archive from another schema version: re-shape to today's columns
            rec = dict(zip(columns, row, strict=True))
            row = [rec.get(c) for c in ARCHIVE_COLUMNS]
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        yield (row[_TS], row[0]), _stamp(row[_PRODUCER], row[_SEQ]), line


class _Merge:
    """Archive and database rows in (timestamp, id) order, each record once.

    A record is the same record when it has the same (producer_id, seq) (a producer resent
    it after it was archived, so the store gave it a new id), or the same id and content
    (it is in both places after a crash or a restore). Both copies share their timestamp.
    """

    def __init__(self) -> None:
        self.new = 0

    def db_items(self, store: LogStore, day: str, hi: int) -> Iterator[Item]:
        for ts, rid, producer, seq, line in store.iter_day(day, hi):
            yield (ts, rid), _stamp(producer, seq), line

    def lines(self, old: Iterator[Item] | None, db: Iterator[Item]) -> Iterator[str]:
        if old is None:  # no archive yet: the database rows are all new (the common, fast case)
            for _, _, line in db:
                self.new += 1
                yield line
            return
        tagged_old = ((key, stamp, line, False) for key, stamp, line in old)
        tagged_db = ((key, stamp, line, True) for key, stamp, line in db)
        group_ts: str | None = None
        stamps: set[tuple[str, int]] = set()
        rows: dict[int, list[str]] = {}
        for (ts, rid), stamp, line, from_db in heapq.merge(tagged_old, tagged_db, key=lambda t: t[0]):
            if ts != group_ts:
                group_ts, stamps, rows = ts, set(), {}
            if stamp is not None and stamp in stamps:
                continue
            if any(line == p or json.loads(line) == json.loads(p) for p in rows.get(rid, ())):
                continue
            if stamp is not None:
                stamps.add(stamp)
            rows.setdefault(rid, []).append(line)
            if from_db:
                self.new += 1
            yield line


def archive_day(settings: Settings, store: LogStore, day: str, *, key: str, compression: str, chunk: int,
                early: bool = False) -> DayResult:
    """Move ``day`` from ``store`` into its archive (see the module docstring for the steps)."""
    final = archives.path_for(settings, day)
    tmp = archives.temp_path_for(settings, day)
    hi = store.max_id()
    merge = _Merge()
    reader = ArchiveReader(final, key, expect_day=day) if final.exists() else None
    try:
        old = _archived_items(reader) if reader else None
        written = write_archive(tmp, day=day, key=key, compression=compression, columns=ARCHIVE_COLUMNS,
                                lines=merge.lines(old, merge.db_items(store, day, hi)))
        kept: Summary
        if reader is not None and merge.new == 0:
            tmp.unlink()  # every row is already in the archive: keep it as it is
            if reader.summary is None:
                raise StoreError(f"{final}: archive could not be verified")
            kept = reader.summary
        else:
            back = verify_archive(tmp, key, expect_day=day)
            if (back.records, back.sha256) != (written.records, written.sha256):
                raise StoreError(f"{tmp}: read back {back.records} records, wrote {written.records}")
            os.replace(tmp, final)
            archives.fsync_dir(final.parent)
            kept = written
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if reader is not None:
            reader.close()
    journal = {"file": final.name, "records": kept.records, "sha256": kept.sha256, "archived_at": now_utc()}
    deleted = store.delete_day(day, hi, chunk=chunk, journal=journal)
    return DayResult(day, kept.records, merge.new, deleted, final.stat().st_size, early)
