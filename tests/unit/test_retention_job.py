"""The retention job: 30 days, hot days in the database, daily archives, the size cap, the disk floor."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aico.config import Settings, load_settings
from aico.errors import ConfigError, StoreError
from aico.retention import archives
from aico.retention.clock import ManualClock
from aico.retention.job import RetentionJob
from aico.retention.policy import MIB
from aico.store import LogStore, days
from aico.store.days import DayMaintenance

from retention_support import NOW, archive_rows, day_of, db_rows, identity, make_day, seed, seed_days, union_counts

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


def configured(env: dict[str, str], **retention: Any) -> Settings:
    return load_settings(env=env, overrides={"core": {"logging": {"retention": retention}}})


def plenty(_: Path) -> int:
    return 10**12  # free disk, so the disk floor never steps in unless a test asks for it


def job(s: Settings, clock: ManualClock | None = None, **kw: Any) -> RetentionJob:
    kw.setdefault("disk_free", plenty)
    return RetentionJob(s, clock=clock or ManualClock(NOW), **kw)


def test_forty_days_become_hot_days_and_one_archive_per_day(settings: Settings) -> None:
    """40 seeded days: after one run, days past 30 are gone, days 8 to 30 are one archive each, 7 stay hot."""
    seeded = seed_days(settings, NOW, 40, 60)
    report = job(settings).run()
    assert not report.errors
    hot = [day_of(NOW, ago) for ago in range(7)]
    archived = [day_of(NOW, ago) for ago in range(7, 30)]
    expired = [day_of(NOW, ago) for ago in range(30, 40)]

    assert sorted(archives.archived_days(settings)) == sorted(archived)
    assert report.expired_rows == 10 * 60 and sorted(report.expired_days) == sorted(expired)
    for day in archived:
        raw = archives.path_for(settings, day).read_bytes()
        assert b"secret message" not in raw and b"mod." not in raw and b"producer" not in raw
        got = list(archives.iter_archive_records(settings, days=[day]))
        assert [identity(r) for r in got] == [identity(r) for r in seeded[day]]
    rows = db_rows(settings)
    assert sorted({r["timestamp"][:10] for r in rows}) == sorted(hot)
    assert len(rows) == 7 * 60
    with LogStore.open(settings) as store:
        journal = store.archive_journal()
    assert sorted(journal) == sorted(archived) and all(j["records"] == 60 for j in journal.values())


def test_a_second_run_changes_nothing(settings: Settings) -> None:
    """Rerunning with nothing new leaves every archive byte for byte as it was."""
    seed_days(settings, NOW, 12, 30)
    job(settings).run()
    before = {d: p.read_bytes() for d, p in archives.archived_days(settings).items()}
    report = job(settings).run()
    assert report.archived == [] and not report.errors
    assert {d: p.read_bytes() for d, p in archives.archived_days(settings).items()} == before


def test_days_move_to_archives_as_the_clock_moves(settings: Settings) -> None:
    """Driven by the clock alone: a hot day becomes an archive after hot_days, then expires after days."""
    seed_days(settings, NOW, 3, 20)
    clock = ManualClock(NOW)
    job(settings, clock).run()
    assert archives.archived_days(settings) == {}
    clock.advance(timedelta(days=7))
    job(settings, clock).run()
    assert sorted(archives.archived_days(settings)) == [day_of(NOW, 2), day_of(NOW, 1), day_of(NOW, 0)]
    clock.advance(timedelta(days=30 - 7 - 2))  # NOW-1 is now the oldest day kept
    job(settings, clock).run()
    assert sorted(archives.archived_days(settings)) == [day_of(NOW, 1), day_of(NOW, 0)]
    assert db_rows(settings) == []


def test_late_and_resent_records_merge_into_the_days_archive(settings: Settings) -> None:
    """Records that arrive for an archived day join its archive; a resent (producer, seq) is kept once."""
    seeded = seed_days(settings, NOW, 10, 30)
    job(settings).run()
    day = day_of(NOW, 8)
    late = make_day(day, 5, first_seq=10_000, message="late message")
    resent = seeded[day][:3]  # the store no longer has them, so it takes them again
    seed(settings, late + resent)
    report = job(settings).run()
    assert [(a["day"], a["new_records"]) for a in report.archived] == [(day, 5)]
    got = Counter(identity(r) for r in archives.iter_archive_records(settings, days=[day]))
    assert got == Counter(identity(r) for r in seeded[day] + late)
    assert all(r["timestamp"][:10] != day for r in db_rows(settings))


def test_size_cap_holds_on_disk(env: dict[str, str], settings: Settings) -> None:
    """A database past max_size_mb is archived, oldest day first, until the file on disk is under the cap."""
    seeded = seed_days(settings, NOW, 6, 800, message="a long message " + "z" * 400)
    with LogStore.open(settings) as store:
        size = store.size_on_disk()
    cap_mb = size / MIB / 2
    s = configured(env, hot_days=30, max_size_mb=cap_mb)
    report = job(s).run()
    with LogStore.open(s) as store:
        after = store.size_on_disk()
    assert after <= cap_mb * MIB < size
    assert report.archived and all(a["early"] for a in report.archived)
    assert [a["day"] for a in report.archived] == sorted(a["day"] for a in report.archived)
    assert report.archived[0]["day"] == day_of(NOW, 5)  # the oldest went first
    assert not report.over_cap
    assert set(union_counts(s).values()) == {1}
    assert sum(union_counts(s).values()) == sum(len(v) for v in seeded.values())


def test_disk_floor_runs_retention_early_and_says_so(env: dict[str, str], settings: Settings) -> None:
    """Under the disk floor, hot days are archived and the oldest archives deleted until the floor is met."""
    seed_days(settings, NOW, 12, 20)
    s = configured(env, min_free_disk_mb=100)

    def free(_: Path) -> int:  # the disk has room again once at most three archives are left
        return 10 * MIB if len(archives.archived_days(s)) > 3 else 500 * MIB

    report = job(s, disk_free=free).run("disk_floor")
    assert report.disk_low
    assert sorted({r["timestamp"][:10] for r in db_rows(s)}) == [day_of(NOW, 0)]
    left = sorted(archives.archived_days(s))
    assert left == [day_of(NOW, 3), day_of(NOW, 2), day_of(NOW, 1)]
    assert report.early_deleted_archives == [day_of(NOW, ago) for ago in range(11, 3, -1)]


def test_concurrent_writes_during_a_run_are_not_lost(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows the collector stores for a day while it is being archived stay in the database for the next run."""
    seed_days(settings, NOW, 9, 50)
    day = day_of(NOW, 8)
    late = make_day(day, 7, first_seq=50_000, message="arrived during the run")
    original = DayMaintenance.iter_day

    def iter_day(self: DayMaintenance, d: str, hi: int, **kw: Any) -> Any:
        for i, item in enumerate(original(self, d, hi, **kw)):
            if d == day and i == 10:
                seed(settings, late)  # another writer commits mid-read
            yield item

    monkeypatch.setattr(DayMaintenance, "iter_day", iter_day)
    job(settings).run()
    assert sorted(identity(r) for r in db_rows(settings) if r["timestamp"][:10] == day) == sorted(
        identity(r) for r in late)
    monkeypatch.undo()
    job(settings).run()
    assert set(union_counts(settings).values()) == {1}
    assert not [r for r in db_rows(settings) if r["timestamp"][:10] == day]


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the job catches it."""


@pytest.mark.parametrize("point", ["before_rename", "after_rename", "mid_delete", "leftover_temp"])
def test_a_crash_at_each_step_then_a_rerun_keeps_every_record_once(
        env: dict[str, str], settings: Settings, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Killed before the rename, after it, or between delete chunks: the rerun finishes, nothing lost or doubled."""
    s = configured(env, delete_chunk_rows=7)
    seeded = seed_days(s, NOW, 10, 40)
    if point == "before_rename":
        monkeypatch.setattr("aico.retention.rollover.os.replace", lambda *a: (_ for _ in ()).throw(Killed()))
    elif point == "after_rename":
        monkeypatch.setattr(DayMaintenance, "delete_day", lambda *a, **k: (_ for _ in ()).throw(Killed()))
    elif point == "mid_delete":
        calls = {"n": 0}
        original = days.transaction

        def tx(conn: Any, what: str) -> Any:
            calls["n"] += 1
            if calls["n"] == 10:
                raise Killed()
            return original(conn, what)

        monkeypatch.setattr(days, "transaction", tx)
    if point == "leftover_temp":
        archives.ensure_dir(s)
        archives.temp_path_for(s, day_of(NOW, 8)).write_bytes(b"half a file")
    else:
        with pytest.raises(Killed):
            job(s).run()
        assert max(union_counts(s).values()) <= 2
        monkeypatch.undo()
    report = job(s).run()
    assert not report.errors
    assert not list(archives.archive_dir(s).glob("*.tmp"))
    kept = [r for day, recs in seeded.items() if day >= day_of(NOW, 29) for r in recs]
    assert union_counts(s) == Counter(identity(r) for r in kept)
    assert {r["timestamp"][:10] for r in db_rows(s)} == {day_of(NOW, ago) for ago in range(7)}


def test_an_unreadable_archive_is_reported_and_its_rows_kept(settings: Settings,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With the wrong archive key, the day's new rows stay in the database and the run says why."""
    seed_days(settings, NOW, 9, 20)
    job(settings).run()
    day = day_of(NOW, 8)
    late = make_day(day, 4, first_seq=9_000)
    seed(settings, late)
    monkeypatch.setenv("AICO_ARCHIVE_KEY", "00" * 32)
    report = job(settings).run()
    assert report.failed_days == [day]
    assert "wrong archive key" in report.errors[0]
    monkeypatch.delenv("AICO_ARCHIVE_KEY")
    assert len([r for r in db_rows(settings) if r["timestamp"][:10] == day]) == 4
    assert len(list(archives.iter_archive_records(settings, days=[day]))) == 20


def test_one_job_at_a_time(settings: Settings) -> None:
    """A second run while one holds the lock fails with a clear message instead of racing."""
    seed_days(settings, NOW, 2, 5)
    with archives.job_lock(settings), pytest.raises(StoreError, match="another retention job"):
        job(settings).run()


def test_archive_rows_iterate_like_store_rows(settings: Settings) -> None:
    """Archived records come back as row dicts with the same keys as the store's rows."""
    seed_days(settings, NOW, 9, 5)
    job(settings).run()
    rows = archive_rows(settings)
    assert rows and set(rows[0]) == set(db_rows(settings)[0])


def test_hot_days_cannot_exceed_days(env: dict[str, str]) -> None:
    """A policy keeping more hot days than it retains is a config error, named."""
    with pytest.raises(ConfigError, match="hot_days"):
        configured(env, days=5, hot_days=6)
