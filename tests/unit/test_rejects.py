"""Rejected payloads are bounded: a prefix, the size and a hash each; pruned by count and age; shed before live days.

A run of garbage from a keyed publisher must neither fill the store nor make the size cap archive today's records.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aico.config import Settings, load_settings
from aico.retention.clock import ManualClock
from aico.retention.job import RetentionJob
from aico.retention.policy import MIB
from aico.store import LogStore
from aico.store.repository import Reject

from retention_support import db_rows, make_day, seed

pytestmark = pytest.mark.clock  # reads the clock: run again with it a year off (make test-clock)


def configured(env: dict[str, str], **logging: Any) -> Settings:
    return load_settings(env=env, overrides={"core": {"logging": logging}})


def garbage(n: int, size: int = 256 * 1024) -> list[Reject]:
    return [Reject.of(b"logs.x.y", os.urandom(16) + b"\xff" * (size - 16), "payload: malformed protobuf: " + "r" * 5000,
                      keep_bytes=1024) for _ in range(n)]


def test_a_reject_keeps_a_prefix_its_size_and_its_hash(settings: Settings) -> None:
    """A 256 KiB payload keeps 1 KiB, with the whole payload's size and SHA-256, and a bounded reason."""
    payload = os.urandom(256 * 1024)
    with LogStore.open(settings, writer=True) as store:
        store.insert_rejects([Reject.of(b"logs.a.b", payload, "bad " * 5000, keep_bytes=1024)])
        [kept] = store.rejects()
    assert kept["payload"] == payload[:1024] and kept["size"] == len(payload)
    assert kept["sha256"] == hashlib.sha256(payload).hexdigest() and kept["topic"] == "logs.a.b"
    assert len(kept["reason"]) == 2048


def test_past_reject_max_rows_the_oldest_rejects_go(settings: Settings) -> None:
    """The writer keeps at most reject_max_rows rejects: the oldest are pruned in the same transaction, counted."""
    with LogStore.open(settings, writer=True) as store:
        pruned = [store.insert_rejects(garbage(10, 2048), max_rows=25) for _ in range(4)]
        assert pruned == [0, 0, 5, 10] and store.count_rejects() == 25
        assert min(r["id"] for r in store.rejects(limit=100)) == 16


def test_retention_prunes_rejects_by_age_and_count(env: dict[str, str]) -> None:
    """Rejects older than reject_max_days (and past reject_max_rows) are pruned by the retention run."""
    s = configured(env, consumer={"reject_max_days": 7, "reject_max_rows": 50})
    seed(s, make_day(datetime.now(UTC).date().isoformat(), 5))
    with LogStore.open(s, writer=True) as store:
        store.insert_rejects(garbage(80, 2048))
    report = RetentionJob(s, clock=ManualClock(datetime.now(UTC)), disk_free=lambda _: 10**12).run()
    assert report.pruned_rejects == 30
    later = RetentionJob(s, clock=ManualClock(datetime.now(UTC) + timedelta(days=8)), disk_free=lambda _: 10**12)
    assert later.run().pruned_rejects == 50
    with LogStore.open(s) as store:
        assert store.count_rejects() == 0


def test_rejects_never_push_live_days_out_under_the_size_cap(env: dict[str, str], settings: Settings) -> None:
    """Over the cap because of rejects: the rejects are shed and no day of records is archived early."""
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).date().isoformat()
    records = make_day(now.date().isoformat(), 300) + make_day(yesterday, 300, first_seq=300)
    seed(settings, records)
    with LogStore.open(settings, writer=True) as store:
        alone = store.size_on_disk()
        for _ in range(10):
            store.insert_rejects(garbage(300, 4096), max_rows=100_000)
        with_rejects = store.size_on_disk()
    cap_mb = (alone * 2) / MIB
    assert with_rejects > alone * 2
    s = load_settings(env=env, overrides={"core": {"logging": {"retention": {"max_size_mb": cap_mb}}}})
    report = RetentionJob(s, clock=ManualClock(now), disk_free=lambda _: 10**12).run()
    assert report.cap_pruned_rejects == 3000 and report.archived == [] and not report.over_cap
    assert len(db_rows(s)) == 600
