"""What the full-text index costs the writer: raw insert throughput with FTS on and off, same run.

Two encrypted stores in fresh homes: one as migrations make it (``0002_fts``: the FTS5 table and
its triggers), one with the index dropped. The same realistic batches (``corpus.py``, the
collector's batch size) go into both, alternating which goes first, so the machine's noise falls
on both alike. Besides wall time, the process's CPU time is counted: the writer is one thread, so
CPU time is what the insert costs, with less of the noise of a machine shared with others.

    python bench/store_insert.py --records 200000 --json

prints fts_on_records_per_s, fts_off_records_per_s and ratio (on / off), by wall time, and the
same by CPU time (cpu_ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aico.config import load_settings
from aico.store import LogStore

from corpus import generate

DROP_FTS = ("DROP TRIGGER logs_fts_insert", "DROP TRIGGER logs_fts_delete", "DROP TRIGGER logs_fts_update",
            "DROP TABLE logs_fts")


def open_store(home: Path, *, fts: bool) -> LogStore:
    env = {"AICO_HOME": str(home), "AICO_CORE__SECURITY__KEYRING": "false"}
    store = LogStore.open(load_settings(env=env), writer=True)
    if not fts:
        for statement in DROP_FTS:
            store.conn.execute(statement)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.pop("AICO_DB_KEY", None)
    batch = load_settings(env={}).core.logging.consumer.batch_size
    records = list(generate(args.records))
    batches = [records[i:i + batch] for i in range(0, len(records), batch)]
    seconds = {True: 0.0, False: 0.0}
    cpu = {True: 0.0, False: 0.0}
    with tempfile.TemporaryDirectory(prefix="aico-bench-insert-") as tmp:
        stores = {fts: open_store(Path(tmp) / ("on" if fts else "off"), fts=fts) for fts in (True, False)}
        try:
            for i, rows in enumerate(batches):
                for fts in ((True, False) if i % 2 == 0 else (False, True)):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    stores[fts].insert_batch(rows)
                    seconds[fts] += time.perf_counter() - start
                    cpu[fts] += time.process_time() - start_cpu
            counts = {fts: store.count() for fts, store in stores.items()}
        finally:
            for store in stores.values():
                store.close()
    on, off = counts[True] / seconds[True], counts[False] / seconds[False]
    cpu_on, cpu_off = counts[True] / cpu[True], counts[False] / cpu[False]
    result = {"records": args.records, "batch_size": batch, "fts_on_records_per_s": round(on),
              "fts_off_records_per_s": round(off), "ratio": round(on / off, 3),
              "cpu_fts_on_records_per_s": round(cpu_on), "cpu_fts_off_records_per_s": round(cpu_off),
              "cpu_ratio": round(cpu_on / cpu_off, 3)}
    if args.json:
        print(json.dumps(result))
        return
    print(f"insert, {args.records} records in batches of {batch} (encrypted store):")
    print("                        wall time          CPU time")
    print(f"  full-text index on : {on:>9,.0f} records/s  {cpu_on:>9,.0f} records/s")
    print(f"  full-text index off: {off:>9,.0f} records/s  {cpu_off:>9,.0f} records/s")
    print(f"  ratio on/off       : {on / off:>9.3f}            {cpu_on / cpu_off:>9.3f}")


if __name__ == "__main__":
    main()
