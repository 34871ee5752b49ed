"""Restoring an archived day: rows come back once, stay for hot_days, then return to the archive."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from aico.config import Settings
from aico.errors import QueryError, StoreError
from aico.retention import archives
from aico.retention.clock import ManualClock
from aico.retention.job import RetentionJob
from aico.retention.restore import restore_day
from aico.store import LogStore

from retention_support import NOW, day_of, db_rows, identity, make_day, seed, seed_days, union_counts

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


def run_job(settings: Settings, clock: ManualClock) -> None:
    RetentionJob(settings, clock=clock, disk_free=lambda _: 10**12).run()


def day_rows(settings: Settings, day: str) -> list[dict]:
    return [r for r in db_rows(settings) if r["timestamp"][:10] == day]


def test_restore_brings_a_day_back_once_with_its_ids(settings: Settings) -> None:
    """Restored rows have their old ids; restoring again adds nothing."""
    seeded = seed_days(settings, NOW, 10, 25)
    with LogStore.open(settings) as store:
        ids_before = {r["id"] for r in store.iter_rows("SELECT id, timestamp FROM logs")
                      if r["timestamp"].startswith(day_of(NOW, 8))}
    run_job(settings, ManualClock(NOW))
    day = day_of(NOW, 8)
    first = restore_day(settings, day, clock=ManualClock(NOW))
    again = restore_day(settings, day, clock=ManualClock(NOW))
    assert (first["restored"], first["already_present"]) == (25, 0)
    assert (again["restored"], again["already_present"]) == (0, 25)
    rows = day_rows(settings, day)
    assert {r["id"] for r in rows} == ids_before
    assert sorted(identity(r) for r in rows) == sorted(identity(r) for r in seeded[day])


def test_records_without_producer_are_not_duplicated(settings: Settings) -> None:
    """Records with no (producer_id, seq) stamp are matched by id and content, so a second restore adds none."""
    day = day_of(NOW, 9)
    recs = make_day(day, 12, producer=None)
    seed(settings, recs + make_day(day_of(NOW, 0), 3))
    run_job(settings, ManualClock(NOW))
    for _ in range(2):
        restore_day(settings, day, clock=ManualClock(NOW))
    assert Counter(identity(r) for r in day_rows(settings, day)) == Counter(identity(r) for r in recs)


def test_an_id_taken_by_another_record_gets_a_new_id(settings: Settings) -> None:
    """If the old id now belongs to a different record (a store rebuilt after loss), the record still comes back."""
    day = day_of(NOW, 9)
    recs = make_day(day, 4, producer=None)
    seed(settings, recs)
    run_job(settings, ManualClock(NOW))
    archived_ids = [r["id"] for r in archives.iter_archive_records(settings, days=[day])]
    with LogStore.open(settings, writer=True) as store:  # another record under the first archived id
        other = make_day(day_of(NOW, 0), 1, producer=None, message="someone else")[0]
        store.insert_archived(["id", *other], json.dumps([[archived_ids[0], *other.values()]]))
    result = restore_day(settings, day, clock=ManualClock(NOW))
    assert result["restored"] == 4
    assert sorted(identity(r) for r in day_rows(settings, day)) == sorted(identity(r) for r in recs)


def test_a_restored_day_stays_for_hot_days_then_returns_to_its_archive(settings: Settings) -> None:
    """The next runs leave a restored day alone until its pin runs out; then it is archived again, unchanged."""
    seed_days(settings, NOW, 10, 20)
    clock = ManualClock(NOW)
    run_job(settings, clock)
    day = day_of(NOW, 8)
    before = archives.path_for(settings, day).read_bytes()
    restore_day(settings, day, clock=clock)
    clock.advance(timedelta(days=1))
    run_job(settings, clock)
    assert len(day_rows(settings, day)) == 20
    clock.advance(timedelta(days=7))
    run_job(settings, clock)
    assert day_rows(settings, day) == []
    assert archives.path_for(settings, day).read_bytes() == before  # nothing new: the file was kept as it was
    assert set(union_counts(settings).values()) == {1}


def test_restore_names_bad_input(settings: Settings) -> None:
    """A malformed day and a day with no archive are clear errors."""
    with pytest.raises(QueryError, match="not a day"):
        restore_day(settings, "2026-13-01")
    with pytest.raises(StoreError, match="no archive for 2026-11-01"):
        restore_day(settings, "2026-11-01")
