"""Retention cost: archiving a month of logs (1,000,000 records by default) and the compression ratio.

One store is seeded with ``--records`` records spread over ``--days`` days, then copied, so
every case starts from the same bytes, in the same run:
  gzip         the retention job moves every day to a gzip archive (read, compress, encrypt,
               verify by reading back, delete in chunks, incremental vacuum)
  zstd         the same with zstd
  delete_only  the baseline: what a plain retention does, delete the same rows (chunked) and
               vacuum, keeping nothing

    python bench/retention.py --records 1000000 --json

prints seconds and records/s per case, ratio (gzip seconds / delete_only seconds), the
archive bytes, the payload bytes (the JSON lines inside, uncompressed) and the compression
ratios (payload / archive, and database bytes freed / archive bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

MODULES = [f"aico.{a}.{b}" for a in ("core", "ai", "data", "api", "ui") for b in ("service", "store", "worker", "io")]
TEMPLATES = [
    "request {n} handled in {ms} ms status {status}",
    "user session {sid} resumed after {ms} ms idle",
    "cache miss for key item:{n} (size {size} bytes)",
    "model reply generated: {tokens} tokens in {ms} ms",
    "retrying upload {n} after error: connection reset by peer (attempt {attempt})",
    "scheduled job {job} finished, {n} rows processed",
]


def records(n: int, days: int, start: datetime, seed: int = 6) -> Any:
    """``n`` canonical records, evenly over ``days`` days from ``start``, in batches of 5,000."""
    from aico.schema.record import COLUMNS

    rng = random.Random(seed)
    step = days * 86_400 / n
    batch = []
    for i in range(n):
        ts = (start + timedelta(seconds=i * step)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        level = rng.choices(("DEBUG", "INFO", "WARNING", "ERROR"), (20, 65, 10, 5))[0]
        msg = rng.choice(TEMPLATES).format(
            n=rng.randrange(10**6), ms=rng.randrange(2000), status=rng.choice((200, 201, 404, 500)),
            sid=f"{rng.getrandbits(48):012x}", size=rng.randrange(10**5), tokens=rng.randrange(900),
            attempt=rng.randrange(1, 5), job=rng.choice(("etl", "backup", "index")))
        rec = dict.fromkeys(COLUMNS)
        rec.update(timestamp=ts, level=level, subsystem="backend", module=rng.choice(MODULES), function="handle",
                   file="service.py", line=rng.randrange(1, 900), topic="service.request", message=msg,
                   trace_id=f"{rng.getrandbits(64):016x}" if i % 3 else None, session_id=f"s{i // 500}",
                   extra=json.dumps({"route": "/api/v1/items", "n": i % 97}) if i % 4 == 0 else None,
                   origin="backend", environment="local", producer_id="bench", seq=i)
        batch.append(rec)
        if len(batch) == 5000:
            yield batch
            batch = []
    if batch:
        yield batch


def env_for(home: Path, **retention: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    env.update({"AICO_HOME": str(home), "AICO_CORE__SECURITY__KEYRING": "false"})
    env.update({f"AICO_CORE__LOGGING__RETENTION__{k.upper()}": v for k, v in retention.items()})
    return env


def seed(home: Path, n: int, days: int, start: datetime) -> float:
    from aico.config import load_settings
    from aico.store import LogStore

    t0 = time.perf_counter()
    with LogStore.open(load_settings(env=env_for(home)), writer=True) as store:
        for batch in records(n, days, start):
            store.insert_batch(batch)
    return time.perf_counter() - t0


def run_case(home: Path, case: str, today: datetime, days: int) -> dict[str, Any]:
    from aico.config import load_settings
    from aico.retention.archives import list_archives
    from aico.retention.clock import ManualClock
    from aico.retention.job import RetentionJob
    from aico.store import LogStore

    settings = load_settings(env=env_for(home, hot_days="1", days=str(days + 5),
                                         compression="zstd" if case == "zstd" else "gzip"))
    with LogStore.open(settings) as store:
        before = store.size_on_disk()
        count = store.count()
    t0 = time.perf_counter()
    if case == "delete_only":
        with LogStore.open(settings, writer=True) as store:
            store.delete_before(today.date().isoformat(), chunk=settings.core.logging.retention.delete_chunk_rows)
            store.reclaim()
    else:
        report = RetentionJob(settings, clock=ManualClock(today)).run()
        if report.errors:
            raise SystemExit(f"{case}: {report.errors}")
    seconds = time.perf_counter() - t0
    with LogStore.open(settings) as store:
        after, left = store.size_on_disk(), store.count()
    out: dict[str, Any] = {"seconds": round(seconds, 2), "records_per_s": round(count / seconds),
                           "db_bytes_before": before, "db_bytes_after": after, "rows_left": left}
    if case != "delete_only":
        listing = list_archives(settings)
        archived = sum(a.summary.records for a in listing if a.summary)
        archive_bytes = sum(a.file_bytes for a in listing)
        payload = sum(a.summary.payload_bytes for a in listing if a.summary)
        out.update(archives=len(listing), archived_records=archived, archive_bytes=archive_bytes,
                   payload_bytes=payload, compression_ratio=round(payload / archive_bytes, 2),
                   db_to_archive_ratio=round((before - after) / archive_bytes, 2))
        if archived != count:
            raise SystemExit(f"{case}: archived {archived} of {count} records")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()
    midnight = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC)
    start = midnight - timedelta(days=args.days)  # a month of logs ending yesterday, relative to now
    today = midnight + timedelta(hours=12)
    with tempfile.TemporaryDirectory(prefix="aico-bench-retention-") as tmp:
        base = Path(tmp) / "seed"
        seed_s = seed(base, args.records, args.days, start)
        result: dict[str, Any] = {"records": args.records, "days": args.days, "seed_seconds": round(seed_s, 2)}
        for case in ("delete_only", "gzip", "zstd"):
            home = Path(tmp) / case
            shutil.copytree(base, home)
            result[case] = run_case(home, case, today, args.days)
            shutil.rmtree(home)
            if not args.json:
                print(f"{case:>12}: {json.dumps(result[case])}", file=sys.stderr)
    result["ratio"] = round(result["gzip"]["seconds"] / result["delete_only"]["seconds"], 2)
    result["zstd_ratio"] = round(result["zstd"]["seconds"] / result["delete_only"]["seconds"], 2)
    if args.json:
        print(json.dumps(result))
        return
    g, z = result["gzip"], result["zstd"]
    print(f"archived {args.records:,} records over {args.days} days: gzip {g['seconds']} s "
          f"({g['records_per_s']:,}/s, {result['ratio']}x a delete-only retention), zstd {z['seconds']} s "
          f"({result['zstd_ratio']}x); compression gzip {g['compression_ratio']}x, zstd {z['compression_ratio']}x "
          f"(database freed / archive bytes: gzip {g['db_to_archive_ratio']}x, zstd {z['db_to_archive_ratio']}x)")


if __name__ == "__main__":
    main()
