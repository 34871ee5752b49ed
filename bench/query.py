"""Finding things in a big store: trace lookup, level + time window, full-text, tail -f delay.

Builds an encrypted store of ``--records`` realistic records (``corpus.py``: ~80 modules, levels
skewed to INFO, traces of 5 to 50 records, long messages, errors with stacks) through
``LogStore.insert_batch``, then measures, on a read-only connection as the CLI uses:
  trace        every record of one trace (a random one each time)
  window       level >= WARNING in a random one-hour window, first page of 100
  fulltext     a full-text term, first page of 100 (a common, a 1% and a rare term)
the same store's layout beside the baseline's (``storelayout.py``: bytes per record and the store's
queries, each side built and timed by its own code in the same run), and compares the full-text
search with ``rg`` (or ``grep``) over a JSON Lines export of the same
records (made by ``aico logs export``) in the same run: grep has to read the whole file to find
the newest 100 lines, which is what the index saves. Then the delay from a record to its line in
a real ``aico logs tail -f``: from the store, and from a ``logging`` call through a running backend.

    python bench/query.py --records 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aico.config import load_settings
from aico.schema.levels import at_least
from aico.schema.timestamps import format_utc, now_utc, parse_utc
from aico.store import LogStore
from aico.store.filters import LogFilter
from baseline import ROOT, aico_argv, baseline_env, baseline_rev, baseline_src, is_baseline_importable
from benchenv import BIN, running_backend

from corpus import generate
from taildelay import Follower, measure

TERMS = {"common": ("consolidation", "consolidation"), "one_percent": ("quota", "quota"),
         "rare": ("user-193", "user-193")}  # (full-text query, grep pattern)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3), "n": len(ordered)}


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return samples, result


def build(env: dict[str, str], records: int) -> tuple[list[str], float]:
    settings = load_settings(env=env)
    batch = settings.core.logging.consumer.batch_size
    traces: list[str] = []
    start = time.perf_counter()
    with LogStore.open(settings, writer=True) as store:
        chunk: list[dict] = []
        for rec in generate(records):
            chunk.append(rec)
            if rec["trace_id"] and (not traces or traces[-1] != rec["trace_id"]) and random.random() < 0.01:
                traces.append(str(rec["trace_id"]))
            if len(chunk) == batch:
                store.insert_batch(chunk)
                chunk = []
        store.insert_batch(chunk)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return traces, time.perf_counter() - start


def grep_command(pattern: str, path: Path) -> tuple[str, list[str]]:
    rg = shutil.which("rg")
    if rg:
        return "rg", [rg, "-F", "-i", "-w", "--no-filename", "--", pattern, str(path)]
    return "grep", ["grep", "-F", "-i", "-w", "--", pattern, str(path)]


def run_grep(argv: list[str]) -> int:
    """The newest 100 matching lines, as ``grep ... | tail -n 100`` gives them; returns how many matched."""
    out = subprocess.run(argv, capture_output=True, env={**os.environ, "LC_ALL": "C"}).stdout
    lines = out.splitlines()
    _ = lines[-100:]
    return len(lines)


def cli_times(env: dict[str, str], commands: dict[str, list[str]], repeat: int) -> dict[str, dict[str, object]]:
    """Each ``aico`` command, whole process, run by the working tree's code and by the baseline's
    (``bench/baseline.py``) in turn, ``repeat`` times each: p50 of both and their ratio.

    Both read the same store; a command whose baseline fails (a store layout it cannot read)
    has no baseline figure. Both trees are compiled to bytecode first, as an installed package is
    (this machine's PYTHONDONTWRITEBYTECODE would make every run compile the working tree)."""
    for tree in (ROOT / "src", baseline_src()):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True, capture_output=True)
    base_env = baseline_env(env)
    samples: dict[tuple[str, bool], list[float]] = {}
    failed: set[str] = set()
    for _ in range(repeat):
        for name, args in commands.items():
            for baseline in (True, False):
                if baseline and name in failed:
                    continue
                start = time.perf_counter()
                done = subprocess.run([*aico_argv(baseline), *args], env=base_env if baseline else env,
                                      capture_output=True)
                took = time.perf_counter() - start
                if done.returncode != 0:
                    if baseline:
                        failed.add(name)
                        continue
                    raise SystemExit(f"aico {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
                samples.setdefault((name, baseline), []).append(took)
    out: dict[str, dict[str, object]] = {}
    for name, args in commands.items():
        new = percentiles(samples[(name, False)])
        entry: dict[str, object] = {"command": "aico " + " ".join(args), **new}
        if (name, True) in samples:
            base = percentiles(samples[(name, True)])
            entry.update({"baseline_p50_ms": base["p50_ms"], "speedup": round(base["p50_ms"] / new["p50_ms"], 1)})
        out[name] = entry
    return out


def layout_side_by_side(records: int, repeat: int, tmp: Path, rounds: int = 3) -> dict[str, object]:
    """``storelayout.py`` run for the baseline and for this tree in this run: each builds its store,
    then their queries are timed in alternating rounds (B N, N B, ...) and each query keeps its
    best round's p50, so a busy spell of the machine does not land on one side only. Ratios are
    new / baseline (below 1: faster)."""
    script = str(Path(__file__).with_name("storelayout.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
    envs = {"baseline": baseline_env(env), "new": env}
    if not is_baseline_importable(envs["baseline"]):
        raise SystemExit("the baseline's source does not come first on PYTHONPATH")
    sides: dict[str, dict] = {}
    for turn in range(rounds + 1):  # turn 0 builds (and times once)
        for side in (("baseline", "new") if turn % 2 == 0 else ("new", "baseline")):
            out = subprocess.run([sys.executable, script, "--records", str(records), "--repeat", str(repeat),
                                  "--home", str(tmp / f"layout-{side}")], env=envs[side], check=True,
                                 capture_output=True, text=True).stdout
            got = json.loads(out.splitlines()[-1])
            if side not in sides:
                sides[side] = got
            else:
                best = sides[side]["p50_ms"]
                sides[side]["p50_ms"] = {q: min(best[q], ms) for q, ms in got["p50_ms"].items()}
    base, new = sides["baseline"], sides["new"]
    return {"baseline_rev": baseline_rev(), "baseline": base, "new": new,
            "bytes_ratio": round(new["bytes_per_record"] / base["bytes_per_record"], 3),
            "p50_ratio": {q: round(new["p50_ms"][q] / base["p50_ms"][q], 2) for q in new["p50_ms"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=40, help="timed runs per query")
    ap.add_argument("--grep-repeat", type=int, default=5)
    ap.add_argument("--tail-samples", type=int, default=40)
    ap.add_argument("--cli-repeat", type=int, default=15, help="runs of each aico command (new and baseline, in turn)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--layout-only", action="store_true", help="only the layout beside the baseline's")
    args = ap.parse_args()
    rng = random.Random(11)
    result: dict[str, object] = {"records": args.records}
    with tempfile.TemporaryDirectory(prefix="aico-bench-query-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
        env.update({"AICO_HOME": str(Path(tmp) / "home"), "AICO_CORE__SECURITY__KEYRING": "false"})
        result["layout"] = layout_side_by_side(args.records, args.repeat, Path(tmp))
        if args.layout_only:
            print(json.dumps(result)) if args.json else report_layout(result["layout"])  # type: ignore[arg-type]
            return
        traces, seconds = build(env, args.records)
        settings = load_settings(env=env)
        db = settings.database_path
        result["build"] = {"seconds": round(seconds, 1), "records_per_s": round(args.records / seconds),
                           "store_bytes": db.stat().st_size}
        with LogStore.open(settings) as store:
            facts = store.info()
            oldest, newest = facts["oldest"], facts["newest"]
            first, span = parse_utc(oldest), parse_utc(newest) - parse_utc(oldest) - timedelta(hours=1)

            def trace_lookup() -> object:
                return list(store.search(LogFilter(trace_id=rng.choice(traces)), ascending=True))

            def window() -> object:
                since = first + span * rng.random()
                return list(store.search(LogFilter(levels=tuple(at_least("warning")), since=format_utc(since),
                                                   until=format_utc(since + timedelta(hours=1)), limit=100)))

            trace_lookup(), window()  # warm the cache as a second query would find it
            samples, rows = timed(trace_lookup, args.repeat)
            result["trace"] = percentiles(samples) | {"records_last": len(rows)}  # type: ignore[arg-type]
            samples, rows = timed(window, args.repeat)
            result["window"] = percentiles(samples) | {"records_last": len(rows)}  # type: ignore[arg-type]
            fulltext = {}
            for name, (query, _) in TERMS.items():
                flt = LogFilter(text=query, limit=100)
                list(store.search(flt))
                samples, rows = timed(lambda f=flt: list(store.search(f)), args.repeat)  # type: ignore[misc]
                fulltext[name] = percentiles(samples) | {"query": query, "page": len(rows),  # type: ignore[arg-type]
                                                         "matches": store.count(LogFilter(text=query))}
        export = Path(tmp) / "export.jsonl"
        start = time.perf_counter()
        subprocess.run([str(BIN / "aico"), "logs", "export", str(export)], env=env, check=True, capture_output=True)
        result["export"] = {"seconds": round(time.perf_counter() - start, 1), "bytes": export.stat().st_size}
        tool = ""
        for name, (_, pattern) in TERMS.items():
            tool, argv = grep_command(pattern, export)
            run_grep(argv)
            samples, lines = timed(lambda a=argv: run_grep(a), args.grep_repeat)  # type: ignore[misc]
            grep = percentiles(samples)
            fulltext[name].update({f"{tool}_p50_ms": grep["p50_ms"], f"{tool}_lines": lines,
                                   "ratio": round(grep["p50_ms"] / fulltext[name]["p50_ms"], 1)})
        result["fulltext"] = fulltext
        result["grep_tool"] = tool
        export.unlink()
        trace_id = traces[len(traces) // 2]
        result["cli"] = cli_times(env, {
            "help": ["--help"],
            "ls": ["logs", "ls"],
            "ls_fulltext_100": ["logs", "ls", "quota", "-n", "100", "-o", "jsonl"],
            "ls_window_100": ["logs", "ls", "-p", "warning", "--since", format_utc(first + span / 2), "-n", "100",
                              "-o", "jsonl"],
            "count": ["logs", "count"],
            "count_errors": ["logs", "count", "-p", "error"],
            "trace": ["logs", "trace", trace_id],
            "tail": ["logs", "tail", "-n", "20"],
        }, args.cli_repeat)
        with running_backend(env, plugins="message_bus,log_consumer"):  # gateway status reads a live one
            result["cli"].update(cli_times(env, {"gateway_status": ["gateway", "status"]}, args.cli_repeat))
        result["tail_f"] = tail_delays(env, settings, args.tail_samples)
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


def tail_delays(env: dict[str, str], settings: object, samples: int) -> dict[str, object]:
    out: dict[str, object] = {}
    with LogStore.open(settings, writer=True) as writer:  # type: ignore[arg-type]
        follower = Follower(env, "--module", "bench.tail")
        base = next(generate(1))

        def store_emit(message: str) -> None:
            writer.insert_batch([{**base, "module": "bench.tail", "message": message, "trace_id": None,
                                  "producer_id": None, "seq": None, "timestamp": now_utc()}])

        try:
            out["store_to_print"] = percentiles(measure(follower, store_emit, samples))
        finally:
            follower.stop()
    # Without the retention plugin: this store is over its default size cap, and archiving it
    # down is not what is measured here.
    with running_backend(env, plugins="message_bus,log_consumer"):
        import logging

        import aico.logging

        os.environ.update({k: v for k, v in env.items() if k.startswith("AICO_")})
        aico.logging.install(load_settings(env=env), subsystem="bench")
        log = logging.getLogger("bench.tail")
        follower = Follower(env, "--module", "bench.tail")
        try:
            out["logging_to_print"] = percentiles(measure(follower, log.warning, samples))
        finally:
            follower.stop()
            aico.logging.uninstall(5)
    return out


def report_layout(lay: dict) -> None:
    base, new = lay["baseline"], lay["new"]
    print(f"layout: {new['bytes_per_record']:.0f} bytes/record against {base['bytes_per_record']:.0f} for the "
          f"baseline {lay['baseline_rev']} (x{lay['bytes_ratio']}); build {new['build_records_per_s']:,} "
          f"against {base['build_records_per_s']:,} records/s")
    print("  where the bytes go (per record): " + ", ".join(f"{k} {v}" for k, v in new["breakdown"].items()))
    for q, ratio in lay["p50_ratio"].items():
        print(f"  {q:<22} p50 {new['p50_ms'][q]:8.2f} ms  baseline {base['p50_ms'][q]:8.2f} ms  x{ratio}")


def report(r: dict) -> None:
    report_layout(r["layout"])
    print(f"store: {r['records']:,} records built in {r['build']['seconds']} s "
          f"({r['build']['records_per_s']:,} records/s), {r['build']['store_bytes'] / 2**20:,.0f} MiB encrypted")
    print(f"trace lookup            p50 {r['trace']['p50_ms']:8.2f} ms  p95 {r['trace']['p95_ms']:8.2f} ms")
    print(f"level+1h window, 100    p50 {r['window']['p50_ms']:8.2f} ms  p95 {r['window']['p95_ms']:8.2f} ms")
    tool = r["grep_tool"]
    for name, f in r["fulltext"].items():
        print(f"full-text {name:<12}  p50 {f['p50_ms']:8.2f} ms  p95 {f['p95_ms']:8.2f} ms  "
              f"({f['matches']:,} matches)  {tool} {f[f'{tool}_p50_ms']:8.1f} ms  ratio {f['ratio']}x")
    print(f"export to JSONL: {r['export']['seconds']} s, {r['export']['bytes'] / 2**20:,.0f} MiB")
    for name, c in r["cli"].items():
        base = f"  baseline {c['baseline_p50_ms']:8.1f} ms  ({c['speedup']}x)" if "baseline_p50_ms" in c else ""
        print(f"CLI {name:<16} p50 {c['p50_ms']:8.1f} ms{base}   {c['command'][:60]}")
    for name, t in r["tail_f"].items():
        print(f"tail -f {name:<17} p50 {t['p50_ms']:8.1f} ms  p95 {t['p95_ms']:8.1f} ms")


if __name__ == "__main__":
    main()
