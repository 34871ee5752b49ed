"""End-to-end ingest throughput: producer processes -> broker -> consumer -> encrypted store.

Two corpora, each sent by ``--producers`` producer processes to a backend of its own, in a fresh
AICO_HOME, all in the same run:
  short      one line of about 60 characters and a small ``extra``; one record in 20 carries a
             private value (a card number, a password, an e-mail and a phone, a bearer token), so
             the privacy policy's detectors run as well as its pre-check
  realistic  the records of ``bench/query.py``'s store (``corpus.py``): long messages, many
             modules, traces, ``extra`` on half, exception stacks on errors

Variants, side by side in every round:
  new          the code here: reliable producers (sealed spool + acks), batched writes
  base         the same with every process running the baseline revision's code (``baseline.py``:
               ``AICO_BENCH_BASELINE=452e5d8 python bench/ingest.py`` compares with that one)
  plain_spool  new with the producer spool in clear (``sealed_spool_cost``: issue 15's goal, < 10%)
  no_acks      new with fire-and-forget producers (no spool, no acks): ``ack_ratio``
  privacy_off  new with ``core.privacy.ingest: off``: what the default policy costs, ``privacy_cost``

Each case reports records/s (until the store holds them all) and the CPU microseconds per record
of each kind of process (``proccpu.py``): the producers, the backend (broker and collector), the
store writer, and the backend's other children (bridge, dashboard; idle here). CPU time drifts
far less than wall time on this shared machine, and it says where the time goes.

    python bench/ingest.py --records 200000 --json

The machine is shared and its speed drifts by tens of percent within a minute, so every variant
runs ``--rounds`` times (default 3), the order turning each round, and each figure is the median
of its rounds; every round's figure is in ``rounds``. A run of the first two variants of each
corpus comes first and is not counted (``warmup``). Then, unless ``--quick``: the spec's original
design (one INSERT and COMMIT per record, short corpus), the low-load latency, the collector's
per-record cost by privacy policy, and the spool's own write rate, sealed and in clear.

Producers stay alive until the store holds every record, in every case, as applications do.
(A fire-and-forget producer that exited as soon as it had sent would hand its freed memory to
the store writer: on these VMs, fresh memory is expensive to touch for the first time, and
that alone made the writer 2 us/record cheaper in the no_acks case.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from baseline import aico_argv, baseline_env, baseline_rev
from benchenv import StoreProbe, case_env, running_backend
from proccpu import Meter


def produce(args: argparse.Namespace) -> None:
    """One producer process: build its records, say ready, wait for go, offer them all, flush."""
    from aico.config import load_settings
    from aico.logging.producer import Producer

    if os.environ.get(PLAIN_SPOOL_ENV):  # the spool in clear, for comparison (bench/spool.py)
        import aico.logging.producer
        from spool import PlainFrames

        aico.logging.producer.spool_cipher = lambda settings: PlainFrames()  # type: ignore[attr-defined]

    settings = load_settings()
    producer = Producer(settings, name=f"bench-{args.index}", subsystem="bench").start()
    records = CORPORA[args.corpus](args.count, args.index)
    print("ready", flush=True)
    sys.stdin.readline()
    offered = 0
    while offered < len(records):
        chunk = records[offered : offered + 500]
        if producer.offer_many(chunk):
            offered += len(chunk)
        else:
            time.sleep(0.001)  # the queue is full: back off, as a client of the bridge does on 429
    producer.flush(600)
    print(json.dumps(producer.snapshot()), flush=True)
    sys.stdin.readline()  # an application goes on running: stay until the run is measured
    producer.close(1)


def run_case(name: str, records: int, producers: int, *, corpus: str = "short", baseline: bool = False,
             **overrides: str) -> dict[str, Any]:
    """One backend and ``producers`` producer processes in a fresh home; records/s until the store
    holds them all, and the CPU each kind of process spent on them (us per record).

    ``baseline``: every process (backend, writer, producers) runs the baseline revision's code.
    """
    with tempfile.TemporaryDirectory(prefix=f"aico-bench-{name}-") as tmp:
        env = case_env(Path(tmp), **overrides)
        if baseline:
            env = baseline_env(env)
        with running_backend(env, aico=aico_argv(baseline) if baseline else None) as backend:
            per = records // producers
            procs = [subprocess.Popen([sys.executable, __file__, "--produce", "--index", str(k), "--count", str(per),
                                       "--corpus", corpus],
                                      env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                     for k in range(producers)]
            for p in procs:
                assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            meter = Meter(backend.pid, [p.pid for p in procs])
            meter.start()
            start = time.perf_counter()
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            total = per * producers
            probe = StoreProbe(env)
            last, last_change = probe.wait_for(total)
            cpu = meter.stop()
            probe.close()
            elapsed = last_change - start
            snapshots = [json.loads(p.communicate("exit\n", timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    return {
        "case": name, "corpus": corpus, "records": total, "stored": last, "seconds": round(elapsed, 3),
        "records_per_s": round(last / elapsed, 1) if elapsed > 0 else 0.0,
        "cpu_us_per_record": {role: round(seconds / max(last, 1) * 1e6, 2) for role, seconds in cpu.items()},
        "resent": sum(s["resent"] for s in snapshots),
        "dropped": sum(s["dropped_total"] for s in snapshots),
    }


def bench_records(count: int, index: int = 0) -> list[dict[str, Any]]:
    """The short records: one line of about 60 characters, a small ``extra``; one in 20 carries a private value."""
    from aico.schema import normalize
    from aico.schema.timestamps import now_utc

    base = normalize({"timestamp": now_utc(), "level": "INFO", "module": "bench.mod",
                      "function": "produce", "topic": "bench", "message": "x"})
    private = ("charge card 4111 1111 1111 1111 declined", "db login password=Tr0ub4dor-{i}",
               "invite sent to user{i}@example.com, phone +44 20 7946 0958", "Authorization: Bearer tok{i}abcdefghijk")
    records = []
    for n in range(count):
        i = index * count + n
        message = f"request {i} handled for user session in {i % 997} ms status ok"
        if i % 20 == 0:
            message += " " + private[i // 20 % len(private)].format(i=i)
        records.append({**base, "module": f"bench.mod{i % 8}", "message": message,
                        "extra": f'{{"i":{i},"route":"/api/v1/items"}}', "line": i % 500,
                        "trace_id": f"trace-{i // 20}"})
    return records


def realistic_records(count: int, index: int = 0) -> list[dict[str, Any]]:
    """The records of ``bench/query.py``'s store (``corpus.py``): ~80 modules in four subsystems,
    messages of 80 to 300 characters, traces, user and session ids, half with ``extra``, and
    exception stacks on errors; each producer its own seed."""
    from corpus import generate

    out = []
    for record in generate(count, seed=1000 + index):
        del record["producer_id"], record["seq"]  # the producer stamps its own
        out.append(record)
    return out


CORPORA = {"short": bench_records, "realistic": realistic_records}


def collector_cost(count: int = 50_000, rounds: int = 5) -> dict[str, float]:
    """In one process, the collector's decode step alone and with each ingest policy, on the same payloads.

    The end-to-end cases share two cores with producers, broker and writer and drift with the
    machine; this isolates what the policy adds to the collector thread, per record.
    """
    from aico.config import load_settings
    from aico.privacy.ingest import IngestPolicy
    from aico.schema import wire

    payloads = [wire.encode(r) for r in bench_records(count)]
    with tempfile.TemporaryDirectory(prefix="aico-bench-policy-") as tmp:
        policies = {mode: IngestPolicy(load_settings(env=case_env(Path(tmp), AICO_CORE__PRIVACY__INGEST=mode)))
                    for mode in ("secrets", "pii")}
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name in ("decode", "secrets", "pii"):
            scrub = policies[name].scrub_rows if name in policies else None
            start = time.perf_counter()
            for k in range(0, len(payloads), 100):  # as the collector does: a bus message's payloads at a time
                rows = [wire.decode_row(p) for p in payloads[k:k + 100]]
                if scrub is not None:
                    scrub(rows)
            best[name] = min(best.get(name, 1e9), (time.perf_counter() - start) / count * 1e6)
    return {"decode_us": round(best["decode"], 2), "secrets_us": round(best["secrets"] - best["decode"], 2),
            "pii_us": round(best["pii"] - best["decode"], 2),
            "secrets_share_at_50k_per_s": round((best["secrets"] - best["decode"]) * 50_000 / 1e6, 3)}


def median_case(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput (the lower middle one of an even count)."""
    ranked = sorted(cases, key=lambda c: float(c["records_per_s"]))
    return ranked[(len(ranked) - 1) // 2]


def latency(samples: int) -> dict[str, float]:
    """Low load: one record at a time, from the logging call until a reader can query it."""
    import logging
    import statistics

    with tempfile.TemporaryDirectory(prefix="aico-bench-latency-") as tmp:
        env = case_env(Path(tmp))
        with running_backend(env):
            os.environ.update(env)
            import aico.logging
            from aico.config import load_settings
            from aico.store import LogStore

            aico.logging.install(name="latency", subsystem="bench")
            log = logging.getLogger("bench.latency")
            log.info("warm-up")
            aico.logging.flush(30)
            store = LogStore.open(load_settings())
            waits = []
            for i in range(samples):
                start = time.perf_counter()
                log.info("latency probe %d", i)
                while not store.count() >= i + 2:
                    time.sleep(0.002)  # polling the reader's view, as `aico logs tail -f` does
                waits.append((time.perf_counter() - start) * 1000)
                time.sleep(0.05)  # low load: one record at a time
            store.close()
            aico.logging.uninstall(5)
    waits.sort()
    return {"p50_ms": round(statistics.median(waits), 1), "p95_ms": round(waits[int(len(waits) * 0.95) - 1], 1),
            "max_ms": round(waits[-1], 1)}


# as bench/spool.py names it (not imported from there: a baseline producer runs this file)
PLAIN_SPOOL_ENV = "AICO_BENCH_PLAIN_SPOOL"

# Each variant: whether it runs the baseline revision's code, and its settings.
VARIANTS: dict[str, tuple[bool, dict[str, str]]] = {
    "new": (False, {}),
    "base": (True, {}),
    "plain_spool": (False, {PLAIN_SPOOL_ENV: "1"}),
    "no_acks": (False, {"AICO_CORE__LOGGING__PRODUCER__RELIABLE": "false"}),
    "privacy_off": (False, {"AICO_CORE__PRIVACY__INGEST": "off"}),
}
PER_CORPUS = {"short": ("new", "base", "plain_spool"),
              "realistic": ("new", "base", "plain_spool", "no_acks", "privacy_off")}


def summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """A variant's rounds: the median round's records/s, and each role's median CPU us/record."""
    mid = median_case(cases)
    roles = cases[0]["cpu_us_per_record"].keys()
    cpu = {role: sorted(c["cpu_us_per_record"][role] for c in cases)[(len(cases) - 1) // 2] for role in roles}
    cpu["total"] = round(sum(cpu.values()), 2)
    return {"records_per_s": mid["records_per_s"], "cpu_us_per_record": cpu,
            "rounds": [c["records_per_s"] for c in cases], "resent": sum(c["resent"] for c in cases),
            "dropped": sum(c["dropped"] for c in cases), "stored": all(c["stored"] == c["records"] for c in cases)}


def ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    return round(float(a["records_per_s"]) / float(b["records_per_s"]), 3) if b["records_per_s"] else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--single-records", type=int, default=0, help="default: records / 10, at least 5,000")
    ap.add_argument("--producers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every variant (median reported)")
    ap.add_argument("--corpora", default="short,realistic", help="which corpora, comma-separated")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="which variants, comma-separated")
    ap.add_argument("--quick", action="store_true", help="leave out the single-insert case, latency and "
                                                         "the collector and spool micro-measures")
    ap.add_argument("--latency-samples", type=int, default=50)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--produce", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", default="short", choices=sorted(CORPORA), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.produce:
        produce(args)
        return
    corpora = [c for c in args.corpora.split(",") if c]
    chosen = set(args.variants.split(","))
    plan = {corpus: [v for v in PER_CORPUS[corpus] if v in chosen] for corpus in corpora}
    # Warm-up, not counted: the first case of a run was up to 15% slower than the same case later
    # (cold page cache for the interpreter and libraries, fresh memory). It also exports the baseline.
    warmup = {f"{c}/{v}": run_case("warmup", args.records, args.producers, corpus=c, baseline=VARIANTS[v][0],
                                   **VARIANTS[v][1])["records_per_s"]
              for c in corpora for v in plan[c][:2]}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {c: {v: [] for v in plan[c]} for c in corpora}
    for r in range(args.rounds):
        for corpus in corpora:
            order = plan[corpus][r % len(plan[corpus]):] + plan[corpus][:r % len(plan[corpus])]  # each first in turn
            for v in order:
                is_base, env = VARIANTS[v]
                case = run_case(v, args.records, args.producers, corpus=corpus, baseline=is_base, **env)
                runs[corpus][v].append(case)
                print(f"round {r + 1}: {corpus} {v} {case['records_per_s']:,.0f} records/s", file=sys.stderr,
                      flush=True)  # progress: a full run takes minutes
    result: dict[str, Any] = {"records": args.records, "producers": args.producers, "rounds": args.rounds,
                              "baseline": baseline_rev(), "warmup": warmup}
    for corpus in corpora:
        got = {v: summary(cases) for v, cases in runs[corpus].items()}
        out: dict[str, Any] = {"variants": got}
        if "new" in got:
            for other, key in (("base", "vs_baseline"), ("no_acks", "ack_ratio")):
                if other in got:
                    out[key] = ratio(got["new"], got[other])
            for other, key in (("plain_spool", "sealed_spool_cost"), ("privacy_off", "privacy_cost")):
                if other in got:
                    out[key] = round(1 - ratio(got["new"], got[other]), 3)
        result[corpus] = out
    if not args.quick:
        n = args.single_records or max(5_000, args.records // 10)
        # The spec's original design end to end: fire-and-forget producers, one INSERT + COMMIT per record.
        single = run_case("single", n, args.producers, AICO_CORE__LOGGING__PRODUCER__RELIABLE="false",
                          AICO_CORE__LOGGING__CONSUMER__WRITE_MODE="single",
                          AICO_CORE__LOGGING__CONSUMER__SYNCHRONOUS="FULL")
        result["single_insert_records_per_s"] = single["records_per_s"]
        result["queryable_latency_ms"] = latency(args.latency_samples)
        result["collector_policy_cost"] = collector_cost()
        result["spool_write"] = spool_write_rates()
    if args.json:
        print(json.dumps(result))
        return
    report(result, corpora)


def spool_write_rates() -> dict[str, dict[str, float]]:
    """The spool's own write rate, sealed and in clear (``bench/spool.py``), on the short records."""
    from aico.logging.spool_cipher import SpoolCipher
    from aico.schema import wire
    from spool import PlainFrames, write_rate

    payloads = [(b"logs.bench", wire.encode(r)) for r in bench_records(100_000)]
    return {"sealed": write_rate(SpoolCipher(bytes(range(32))), payloads), "plain": write_rate(PlainFrames(), payloads)}


def report(result: dict[str, Any], corpora: list[str]) -> None:
    """The figures as a table, one line per corpus and variant."""
    print(f"{result['records']:,} records from {result['producers']} producers, median of {result['rounds']} rounds; "
          f"base = revision {result['baseline']}")
    print(f"{'corpus':>9} {'variant':>11} {'records/s':>10}  CPU us/record: {'producers':>9} {'backend':>8} "
          f"{'writer':>7} {'other':>6} {'total':>6}   rounds")
    for corpus in corpora:
        for v, got in result[corpus]["variants"].items():
            cpu = got["cpu_us_per_record"]
            flag = "" if got["stored"] else "  NOT ALL STORED"
            print(f"{corpus:>9} {v:>11} {got['records_per_s']:>10,.0f}  {'':>14} {cpu['producers']:>9} "
                  f"{cpu['backend']:>8} {cpu['writer']:>7} {cpu['other']:>6} {cpu['total']:>6}   "
                  f"{[round(x) for x in got['rounds']]} resent {got['resent']} dropped {got['dropped']}{flag}")
        ratios = {k: v for k, v in result[corpus].items() if k != "variants"}
        print(f"{corpus:>9} {ratios}  (vs_baseline and ack_ratio: new / other; costs: 1 - new / other)")
    print(f"warm-up, not counted: {result['warmup']}")
    if "single_insert_records_per_s" in result:
        policy, lat, spool = result["collector_policy_cost"], result["queryable_latency_ms"], result["spool_write"]
        print(f"the spec's original design (one INSERT + COMMIT per record, short): "
              f"{result['single_insert_records_per_s']:,.0f} records/s")
        print(f"in the collector thread: decode {policy['decode_us']} us/record; the policy adds "
              f"{policy['secrets_us']} us (secrets) or {policy['pii_us']} us (pii)")
        print(f"the spool's own write rate: sealed {spool['sealed']['write_records_per_s']:,} records/s, "
              f"in clear {spool['plain']['write_records_per_s']:,} records/s")
        print(f"low-load latency, logging call -> queryable: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, "
              f"max {lat['max_ms']} ms")


if __name__ == "__main__":
    main()
