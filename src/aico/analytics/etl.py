"""One ETL run: log store -> scrub -> flatten -> encrypted DuckDB, then rollups and Parquet.

    prune       records older than the retention window leave analytics (their days go dirty)
    extract     in the reader process (``source``), one id window after another after the
                watermark: read from libSQL (filtered by level and retention), parsed and
                pre-checked for private data (``stage``), handed over as Arrow; it reads the
                next window while this process loads the current one
    per window:
      scrub     Python fixes the rows the pre-checks selected, drops and pseudonymises (``scrub``)
      in ONE DuckDB transaction (on one thread: the reader has the other core):
      promote   frequent ``extra`` keys become typed columns
      load      typed, flattened rows into ``logs``; their days marked dirty; watermark moved
    rollups     the dirty days recomputed, in one transaction
    parquet     optional day-partitioned copy

A crash anywhere loses at most the window in progress, which the next run does again.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from aico.analytics import extras, parquet, rollups, schema, scrub, state, transform
from aico.analytics.connection import open_analytics, transaction
from aico.analytics.filters import cutoff, source_filter
from aico.analytics.source import Job, SourceReader, Window
from aico.config.settings import Analytics, Settings
from aico.errors import StoreError
from aico.privacy import Scrubber
from aico.schema.timestamps import format_utc
from aico.store.repository import LogStore


@dataclass
class EtlResult:
    mode: str
    watermark_from: int = 0
    watermark_to: int = 0
    chunks: int = 0
    scanned: int = 0
    loaded: int = 0
    filtered: int = 0
    invalid: int = 0
    pruned: int = 0
    scrub_candidates: int = 0
    scrubbed: dict[str, int] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)
    rollup_days: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    parquet: dict[str, Any] | None = None

    @property
    def records_per_s(self) -> float:
        return self.scanned / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records_per_s": round(self.records_per_s, 1)}


class _Phases:
    """Seconds spent per phase of a run (reported by ``--json`` and the benchmark)."""

    def __init__(self, result: EtlResult) -> None:
        self.result = result
        self.mark = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.result.phases[name] = round(self.result.phases.get(name, 0.0) + now - self.mark, 4)
        self.mark = now


def load_chunk(con: duckdb.DuckDBPyConnection, window: Window, scrubber: Scrubber, cfg: Analytics,
               result: EtlResult, records_seen: int) -> int:
    """Scrub, flatten and load one window, moving the watermark with it; returns records seen so far."""
    phase = _Phases(result)
    rows, candidates = scrub.apply(window.rows, scrubber) if window.rows is not None else (None, 0)
    phase("scrub")
    staged = rows.num_rows if rows is not None else 0
    loaded = 0
    with transaction(con):
        if staged:
            con.register("stage", rows)
            try:
                extras.count_keys(con, extras.load(con))
                records_seen += staged
                result.promoted += [p.column for p in extras.promote(con, cfg, records_seen)]
                phase("extras")
                loaded = transform.insert(con, extras.flattening(extras.load(con)))
                rollups.mark_dirty(con, window.after_id, window.last_id)
            finally:
                con.unregister("stage")
            phase("load")
        state.advance(con, window.last_id, staged)
    phase("commit")
    for name, seconds in window.seconds.items():
        result.phases[name] = round(result.phases.get(name, 0.0) + seconds, 4)
    result.scrub_candidates += candidates
    result.chunks += 1
    result.scanned += window.scanned
    result.loaded += loaded
    result.filtered += window.scanned - staged
    result.invalid += staged - loaded
    result.watermark_to = window.last_id
    return records_seen


def run_etl(settings: Settings, *, full: bool = False, parquet_dir: Path | None = None,
            now: datetime | None = None, scrubber: Scrubber | None = None) -> EtlResult:
    """Bring the analytics database up to date with the log store (see the module docstring)."""
    clock = time.perf_counter()
    started_at = datetime.now(UTC)
    cfg = settings.core.analytics
    # A new pseudonym key only with a new (or rebuilt) database: pseudonyms made under another key
    # would not join with the ones already loaded.
    scrubber = scrubber or Scrubber.from_settings(settings, create_key=full or not settings.analytics_path.exists())
    counts_before = dict(scrubber.counts)
    since = cutoff(settings, now or started_at)
    result = EtlResult(mode="full" if full else "incremental")
    with LogStore.open(settings) as store:
        top = store.last_issued_id()
    with open_analytics(settings, create=True) as con:
        schema.ensure(con)
        if full:
            with transaction(con):
                schema.reset(con)
        current = state.read(con)
        result.watermark_from = result.watermark_to = current.watermark
        if top < current.watermark:
            raise StoreError(
                f"the log store's newest id ({top}) is below the analytics watermark ({current.watermark}): "
                "the store was recreated; rebuild analytics with `aico analytics etl --full`"
            )
        with transaction(con):
            result.pruned = rollups.prune(con, since)
        seen = current.records_seen
        if top > current.watermark:
            job = Job(settings, scrub.Prechecks.of(scrubber), after_id=current.watermark, upto=top,
                      chunk=cfg.chunk_size, filter=source_filter(settings, since))
            con.execute("SET threads = 1")
            with SourceReader(job) as reader:
                for window in reader:
                    seen = load_chunk(con, window, scrubber, cfg, result, seen)
                result.phases["wait"] = round(reader.waited, 4)
            con.execute(f"SET threads = {cfg.threads}" if cfg.threads else "RESET threads")
        phase = _Phases(result)
        dirty = {d for (d,) in con.execute("SELECT day FROM etl_dirty_days").fetchall()}
        result.rollup_days = rollups.recompute(con)
        phase("rollups")
        if parquet_dir is not None:
            exported = parquet.export(con, parquet_dir, instance_id=current.instance_id,
                                      start_watermark=-1 if full or result.promoted else current.watermark,
                                      watermark=result.watermark_to, days=dirty)
            result.parquet = asdict(exported)
        result.scrubbed = {k: v - counts_before.get(k, 0) for k, v in sorted(scrubber.counts.items())
                           if v - counts_before.get(k, 0)}
        result.seconds = time.perf_counter() - clock
        state.record_run(con, {
            **result.as_dict(), "started_at": format_utc(started_at), "finished_at": format_utc(datetime.now(UTC)),
        })
    return result
