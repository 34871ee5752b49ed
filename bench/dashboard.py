"""The dashboard's API on a big store: first page of a search, a 30-day histogram, the live-tail delay.

Builds an encrypted store of ``--records`` realistic records over 30 days (``corpus.py``), runs
the dashboard's own process (``python -m aico.dashboard.process``, as the backend runs it) and
times, over HTTP with the bearer token, each call ``--repeat`` times:
  search       the first page (100) of: everything; WARNING and above of the last day; a module
               prefix; a full-text word
  histogram    30 days, stacked by level: everything; errors only; a full-text word
and, side by side in the same run, the same search through ``aico logs ls ... -n 100 -o jsonl``
(a whole CLI process, as a person would run it) and through ``LogStore.search`` in this process
(the repository both share: the baseline the API's own cost is measured against).
Then the live-tail delay: a record committed by a writer in this process -> its event arriving
on an open ``/api/v1/tail`` stream.

    python bench/dashboard.py --records 1000000 --json
    python bench/dashboard.py --home /tmp/dash-1m   # builds the store there once, reuses it after
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aico.config import load_settings
from aico.dashboard.auth import load_token
from aico.dashboard.query import build_filter
from aico.schema.timestamps import now_utc
from aico.store import LogStore
from aico.store.filters import LogFilter
from benchenv import BIN

from corpus import generate

SEARCHES = {
    "everything": {},
    "warning_1d": {"level": "warning", "since": "1d"},
    "module_prefix": {"module": "backend.memory"},
    "fulltext_quota": {"q": "quota"},
}
HISTOGRAMS = {"everything_30d": {"since": "30d"}, "errors_30d": {"since": "30d", "level": "error"},
              "fulltext_30d": {"since": "30d", "q": "quota"}}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2), "n": len(ordered)}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm: the second query of a session finds the pages in the cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def build(env: dict[str, str], records: int) -> float:
    """Fill the store with ``records`` records over the last 30 days; a store that already holds them
    (a ``--home`` kept from an earlier run) is used as it is (0 s): building one takes minutes."""
    settings = load_settings(env=env)
    start = time.perf_counter()
    with LogStore.open(settings, writer=True) as store:
        have = store.max_id() or 0
        if have >= records:
            return 0.0
        if have:
            raise SystemExit(f"{settings.database_path} holds {have} records, not {records}: use another --home")
        chunk: list[dict] = []
        for rec in generate(records, days=30.0):
            chunk.append(rec)
            if len(chunk) == 5000:
                store.insert_batch(chunk)
                chunk = []
        store.insert_batch(chunk)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - start


class DashboardProcess:
    """The dashboard's process on a free port, stopped by closing its stdin (as the plugin does)."""

    def __init__(self, env: dict[str, str]) -> None:
        settings = load_settings(env={**env, "AICO_CORE__DASHBOARD__PORT": "0"})
        self.proc = subprocess.Popen([sys.executable, "-m", "aico.dashboard.process"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(settings.model_dump_json() + "\n")
        self.proc.stdin.flush()
        ready = json.loads(self.proc.stdout.readline())
        if "ready" not in ready:
            raise RuntimeError(f"the dashboard did not start: {ready}")
        self.url = f"http://127.0.0.1:{ready['ready']['port']}"
        threading.Thread(target=lambda: [None for _ in self.proc.stdout or ()], daemon=True).start()

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(60)


def tail_delays(client: httpx.Client, settings: object, samples: int) -> dict[str, float]:
    events: queue.Queue[tuple[float, str]] = queue.Queue()
    stop = threading.Event()

    def listen() -> None:
        try:
            with client.stream("GET", "/api/v1/tail", params={"module": "bench.tail"}, timeout=None) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.put((time.time(), line[6:]))
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            if not stop.is_set():  # the stream ends when the bench closes its client: not news then
                raise

    threading.Thread(target=listen, daemon=True).start()
    events.get(timeout=30)  # hello
    rng = random.Random(5)
    base = next(generate(1))
    delays = []
    with LogStore.open(settings, writer=True) as writer:  # type: ignore[arg-type]
        for k in range(samples + 1):
            time.sleep(rng.uniform(0.05, 0.25))  # probes spaced at random, out of step with the polling
            writer.insert_batch([{**base, "module": "bench.tail", "message": f"probe {k}", "trace_id": None,
                                  "producer_id": None, "seq": None, "timestamp": now_utc()}])
            committed = time.time()
            while True:
                arrived, data = events.get(timeout=30)
                if json.loads(data).get("message") == f"probe {k}":
                    if k:  # the first probe is the warm-up
                        delays.append(arrived - committed)
                    break
    stop.set()
    return percentiles(delays)


def cli_args(params: dict[str, str]) -> list[str]:
    args = ["logs", "ls", "-n", "100", "-o", "jsonl"]
    for name, value in params.items():
        args += [value] if name == "q" else [f"--{name.replace('_', '-')}", value]
    return args


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=20, help="timed calls per query")
    ap.add_argument("--cli-repeat", type=int, default=5)
    ap.add_argument("--tail-samples", type=int, default=30)
    ap.add_argument("--home", type=Path, help="build the store here, or reuse the one an earlier run left")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result: dict[str, object] = {"records": args.records}
    with tempfile.TemporaryDirectory(prefix="aico-bench-dashboard-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AICO_")}
        env.update({"AICO_HOME": str(args.home or Path(tmp) / "home"), "AICO_CORE__SECURITY__KEYRING": "false"})
        seconds = build(env, args.records)
        settings = load_settings(env=env)
        result["build"] = {"seconds": round(seconds, 1), "store_bytes": settings.database_path.stat().st_size}
        token = load_token(settings)
        server = DashboardProcess(env)
        try:
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
                searches: dict[str, object] = {}
                with LogStore.open(settings) as store:
                    for name, params in SEARCHES.items():
                        def api(p: dict[str, str] = params) -> object:
                            r = client.get("/api/v1/search", params={**p, "limit": "100"})
                            r.raise_for_status()
                            return r.json()

                        flt = build_filter(params)

                        def repo(f: LogFilter = replace(flt, limit=100)) -> object:
                            return list(store.search(f))

                        api_ms = percentiles(timed(api, args.repeat))
                        repo_ms = percentiles(timed(repo, args.repeat))
                        cli_ms = percentiles(timed(lambda p=params: subprocess.run(  # type: ignore[misc]
                            [str(BIN / "aico"), *cli_args(p)], env=env, capture_output=True, check=True),
                            args.cli_repeat))
                        api_p50, repo_p50 = api_ms["p50_ms"], max(repo_ms["p50_ms"], 0.01)
                        searches[name] = {"api": api_ms, "repository": repo_ms, "cli": cli_ms,
                                          "api_over_repository": round(api_p50 / repo_p50, 2),
                                          "cli_over_api": round(cli_ms["p50_ms"] / max(api_p50, 0.01), 1)}
                result["search_first_page"] = searches
                histograms: dict[str, object] = {}
                for name, params in HISTOGRAMS.items():
                    def hist(p: dict[str, str] = params) -> object:
                        r = client.get("/api/v1/histogram", params=p)
                        r.raise_for_status()
                        return r.json()

                    body = hist()
                    histograms[name] = {"api": percentiles(timed(hist, args.repeat)),
                                        "bars": len(body["buckets"]), "total": body["total"]}  # type: ignore[index]
                result["histogram"] = histograms
                result["live_tail"] = tail_delays(client, settings, args.tail_samples)
        finally:
            server.stop()
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


def report(r: dict) -> None:
    print(f"store: {r['records']:,} records over 30 days, built in {r['build']['seconds']} s, "
          f"{r['build']['store_bytes'] / 2**20:,.0f} MiB encrypted")
    print("first page (100) of a search     API p50 / p95        repository p50   aico logs ls p50 (whole process)")
    for name, s in r["search_first_page"].items():
        api = s["api"]
        print(f"  {name:<16} {api['p50_ms']:9.1f} / {api['p95_ms']:7.1f} ms   {s['repository']['p50_ms']:9.1f} ms"
              f"   {s['cli']['p50_ms']:9.1f} ms")
    print("histogram, stacked by level        API p50 / p95")
    for name, h in r["histogram"].items():
        print(f"  {name:<16} {h['api']['p50_ms']:9.1f} / {h['api']['p95_ms']:7.1f} ms   "
              f"{h['bars']} bars, {h['total']:,} records")
    t = r["live_tail"]
    print(f"live tail: commit -> event   p50 {t['p50_ms']:.1f} ms  p95 {t['p95_ms']:.1f} ms  ({t['n']} probes)")


if __name__ == "__main__":
    main()
