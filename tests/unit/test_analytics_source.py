"""The ETL's source: the reader process, its failures, and scrubbing the windows it hands over."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from aico.analytics import scrub
from aico.analytics.scrub import Prechecks
from aico.analytics.source import Job, SourceReader
from aico.analytics.stage import connect, stage
from aico.config import Settings, load_settings
from aico.errors import StoreError
from aico.privacy import PrivacyRules, Scrubber
from aico.schema.record import COLUMNS, normalize
from aico.store.repository import LogStore

import etl_data

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)

KEY = b"k" * 32


def job(settings: Settings, scrubber: Scrubber, *, chunk: int = 50, after_id: int = 0) -> Job:
    with LogStore.open(settings) as store:
        top = store.last_issued_id()
    return Job(settings, Prechecks.of(scrubber), after_id=after_id, upto=top, chunk=chunk, filter=None)


def test_reader_hands_over_every_window_in_order(settings: Settings) -> None:
    """The reader yields the store's id windows in order, every record once, parsed, not yet scrubbed."""
    raws = etl_data.raw_records(200)
    etl_data.store_records(settings, raws)
    scrubber = Scrubber.from_settings(settings, create_key=True)
    with SourceReader(job(settings, scrubber, after_id=10)) as reader:
        windows = list(reader)
    assert [(w.after_id, w.last_id) for w in windows] == [(10, 60), (60, 110), (110, 160), (160, 200)]
    assert [w.scanned for w in windows] == [w.last_id - w.after_id for w in windows]
    rows = pa.concat_tables([w.rows for w in windows if w.rows is not None])
    assert rows["id"].to_pylist() == list(range(11, 201))
    assert set(scrub.FLAGS) <= set(rows.column_names)
    assert etl_data.PRIVATE["email"] in " ".join(m for m in rows["message"].to_pylist() if m)


def test_reader_errors_arrive_here_as_ours(settings: Settings, tmp_path: Path) -> None:
    """An error in the reader process (here: no log store) is raised in the ETL process, same class and text."""
    etl_data.store_records(settings, etl_data.raw_records(5))
    scrubber = Scrubber.from_settings(settings, create_key=True)
    elsewhere = load_settings(env={"AICO_HOME": str(tmp_path / "empty"), "AICO_CORE__SECURITY__KEYRING": "false"})
    with SourceReader(replace(job(settings, scrubber), settings=elsewhere)) as reader, \
            pytest.raises(StoreError, match="no log store"):
        list(reader)


def test_a_dead_reader_is_a_clear_error(settings: Settings) -> None:
    """A reader process that dies mid-run (killed) ends the run with a StoreError, not a hang."""
    etl_data.store_records(settings, etl_data.raw_records(300))
    scrubber = Scrubber.from_settings(settings, create_key=True)
    with SourceReader(job(settings, scrubber, chunk=10)) as reader:
        windows = iter(reader)
        next(windows)
        reader._child.kill()
        with pytest.raises(StoreError, match="stopped unexpectedly"):
            for _ in windows:
                pass


def test_leaving_early_stops_the_reader(settings: Settings) -> None:
    """Leaving the context mid-run (an error in the load, Ctrl-C) stops and reaps the reader process."""
    etl_data.store_records(settings, etl_data.raw_records(300))
    scrubber = Scrubber.from_settings(settings, create_key=True)
    with SourceReader(job(settings, scrubber, chunk=10)) as reader:
        next(iter(reader))
    assert reader._child.exit_code() is not None
    assert not reader._receiver.is_alive()


def test_apply_masks_drops_and_pseudonymises() -> None:
    """Flagged rows scrubbed as the scrubber does it, the rest untouched; dropped columns NULL, ids hashed."""
    rules = PrivacyRules(rules=("email", "card", "ipv4"), secret_names=("password",), drop_fields=("session_id",))
    scrubber = Scrubber(rules, KEY)
    raws = [normalize({**raw, "session_id": f"s{i}"}) for i, raw in enumerate(etl_data.raw_records(60))]
    rows = [json.dumps([i + 1, *(raw[c] for c in COLUMNS)]) for i, raw in enumerate(raws)]
    staged = stage(connect("256MB"), rows, Prechecks.of(scrubber))
    out, candidates = scrub.apply(staged, scrubber)
    assert candidates == sum(1 for r in raws if "@" in r["message"] or "password" in r["extra"])
    assert candidates < len(raws) / 2
    assert out.column_names == [c for c in staged.column_names if c not in scrub.FLAGS]
    reference = Scrubber(rules, KEY)
    for raw, row in zip(raws, out.to_pylist(), strict=True):
        assert row["message"] == reference.scrub_text(raw["message"])
        assert row["extra"] == reference.scrub_json(raw["extra"])
        assert row["user_id"] == (reference.pseudonymize(raw["user_id"]) if raw.get("user_id") else None)
        assert row["session_id"] is None and row["module"] == raw["module"]
    assert scrubber.counts["dropped_field"] == 60
    assert scrubber.counts["pseudonymized"] == sum(1 for r in raws if r.get("user_id"))
    assert Counter({k: v for k, v in scrubber.counts.items() if k != "dropped_field"}) == reference.counts
