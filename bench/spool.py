"""The cost of sealing the producer spool (AES-256-GCM per frame) against frames in clear.

Two measures, both in the same run:
  write rate   ``Spool.append`` of the ingest benchmark's records, in batches of 200, sealed and
               in clear (a bench-only frame format with no cipher), then reading them all back
  end to end   the ingest benchmark's ``batched`` case (2 reliable producers -> broker ->
               collector -> encrypted store) with the sealed spool and with a clear one,
               alternating which goes first, ``--rounds`` times; each figure is the median

    python bench/spool.py --records 200000 --json

The goal stated for the sealed spool: under 10% slower end to end (``e2e_cost``).
"""

from __future__ import annotations

import argparse
import json
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from aico.logging.spool import Spool
from aico.logging.spool_cipher import Item, SpoolCipher

PLAIN_SPOOL_ENV = "AICO_BENCH_PLAIN_SPOOL"
_PLAIN = struct.Struct("<IQH")


class PlainFrames(SpoolCipher):
    """Frames in clear (the spool's format before sealing), for comparison only."""

    def __init__(self) -> None:
        super().__init__(bytes(32))

    def seal(self, items: list[tuple[bytes, bytes]], first_seq: int) -> bytes:
        return b"".join(_PLAIN.pack(10 + len(t) + len(p), first_seq + i, len(t)) + t + p
                        for i, (t, p) in enumerate(items))

    def walk(self, data: bytes, *, final: bool) -> tuple[list[Item], int]:
        out, pos = [], 0
        while pos + _PLAIN.size <= len(data):
            length, seq, tlen = _PLAIN.unpack_from(data, pos)
            end = pos + 4 + length
            if end > len(data):
                break
            start = pos + _PLAIN.size
            out.append(Item(seq, True, data[start : start + tlen], data[start + tlen : end], pos, end))
            pos = end
        return out, pos

    def need(self, data: bytes) -> int:
        pos = 0
        while pos + _PLAIN.size <= len(data):
            end = pos + 4 + _PLAIN.unpack_from(data, pos)[0]
            if end > len(data):
                return end
            pos = end
        return len(data)


def write_rate(cipher: SpoolCipher, payloads: list[tuple[bytes, bytes]]) -> dict[str, float]:
    """Records/s and MB/s appended (batches of 200), and records/s read back, in a fresh spool."""
    with tempfile.TemporaryDirectory(prefix="aico-bench-spool-") as tmp:
        spool = Spool(Path(tmp), cipher=cipher, segment_bytes=16 << 20, max_bytes=1 << 40)
        start = time.perf_counter()
        for i in range(0, len(payloads), 200):
            spool.append(payloads[i : i + 200])
        wrote = time.perf_counter() - start
        size = spool.size
        start = time.perf_counter()
        seq, got = 1, 0
        while True:
            chunk = spool.read_from(seq, 5000)
            if not chunk:
                break
            got += len(chunk)
            seq = chunk[-1][0] + 1
        read = time.perf_counter() - start
        spool.close()
    assert got == len(payloads), (got, len(payloads))
    return {"write_records_per_s": round(len(payloads) / wrote), "write_mb_per_s": round(size / wrote / 1e6, 1),
            "read_records_per_s": round(len(payloads) / read), "bytes_per_record": round(size / len(payloads), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-e2e", action="store_true", help="only the spool's own write rate")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from aico.schema import wire
    from ingest import bench_records, median_case, run_case

    records = bench_records(min(args.records, 200_000))
    payloads = [(b"logs.bench", wire.encode(r)) for r in records]
    sealed = SpoolCipher(bytes(range(32)))
    rates = {"sealed": write_rate(sealed, payloads), "plain": write_rate(PlainFrames(), payloads)}
    result: dict[str, Any] = {"records": len(payloads), "spool": rates,
                              "write_cost": round(1 - rates["sealed"]["write_records_per_s"]
                                                  / rates["plain"]["write_records_per_s"], 3)}
    if not args.no_e2e:
        runs: dict[str, list[dict[str, float | int | str]]] = {"sealed": [], "plain": []}
        modes = {"sealed": {}, "plain": {PLAIN_SPOOL_ENV: "1"}}
        run_case("warmup", args.records, args.producers)
        for r in range(args.rounds):
            for name in (["sealed", "plain"] if r % 2 == 0 else ["plain", "sealed"]):
                runs[name].append(run_case(name, args.records, args.producers, **modes[name]))
        med = {name: median_case(cases)["records_per_s"] for name, cases in runs.items()}
        result.update({"e2e_records_per_s": med, "e2e_cost": round(1 - float(med["sealed"]) / float(med["plain"]), 3),
                       "rounds": {name: [c["records_per_s"] for c in cases] for name, cases in runs.items()}})
    if args.json:
        print(json.dumps(result))
        return
    for name, rate in rates.items():
        print(f"{name:>6} spool: {rate['write_records_per_s']:>9,} records/s written ({rate['write_mb_per_s']} MB/s, "
              f"{rate['bytes_per_record']} B/record), {rate['read_records_per_s']:>9,} records/s read back")
    print(f"sealing costs {100 * result['write_cost']:.1f}% of the spool's write rate")
    if "e2e_cost" in result:
        print(f"end to end (median of {args.rounds}): sealed {result['e2e_records_per_s']['sealed']:,} records/s, "
              f"plain {result['e2e_records_per_s']['plain']:,} records/s: sealing costs "
              f"{100 * result['e2e_cost']:.1f}% (goal: under 10%); rounds {result['rounds']}")


if __name__ == "__main__":
    main()
