"""Frontend bridge throughput: batch POSTs on loopback from a concurrent load generator.

One backend (broker and consumer, with the store writer and the bridge in child processes
of their own) in a fresh AICO_HOME; this process is the load generator: ``--connections``
asyncio clients (httpx), each POSTing batches of ``--batch`` records to
``/api/v1/logs/batch`` as fast as answers come, backing off on 429.
Two figures per case: *accepted* (records/s answered 202: durable on the bridge producer's
spool) and *stored* (records/s until the last one is in the encrypted store). The baseline,
measured in the same run, is the spec's bridge shape: one record per POST (``/log``).

    python bench/bridge.py --records 200000 --json

Both the generator and the backend share the machine's cores: the figures are for this box.
``backend_cpu_us_per_record`` (CPU time of the backend and its child processes per record stored) says
what a record costs whatever else the machine is doing (bridge, producer, broker, collector
and store together).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from aico.schema.timestamps import now_utc
from benchenv import BIN, StoreProbe, case_env, running_backend


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (Linux /proc)."""
    ticks: dict[int, tuple[int, int]] = {}  # pid -> (parent pid, ticks)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total = {pid}, 0
    for _ in range(4):  # the backend, its writer and bridge processes, and anything under them
        tree |= {p for p, (parent, _) in ticks.items() if parent in tree}
    total = sum(ticks[p][1] for p in tree if p in ticks)
    return total / os.sysconf("SC_CLK_TCK")


def bodies(batch: int, kinds: int = 16) -> list[bytes]:
    """A few distinct batch bodies (records without stamps: each one is stored, none deduplicated)."""
    out = []
    stamp = now_utc()  # records of now: retention and analytics windows are relative to the clock
    for k in range(kinds):
        out.append(json.dumps([{
            "timestamp": stamp, "level": "INFO", "module": f"web.bench{k % 4}",
            "function": "render", "file": "app.js", "line": i, "topic": "ui/render",
            "message": f"rendered view {k}-{i} in {i % 97} ms", "trace_id": f"trace-{k}-{i // 10}",
            "session_id": "session-bench", "extra": {"i": i, "route": "/chat"},
        } for i in range(batch)]).encode())
    return out


async def load(url: str, token: str, path: str, payloads: list[bytes], per_request: int, requests: int,
               connections: int) -> dict[str, float]:
    """POST ``requests`` bodies over ``connections`` concurrent clients; latencies of the 2xx answers."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    throttled = 0
    todo = iter(range(requests))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal throttled
        for n in todo:
            body = payloads[n % len(payloads)]
            while True:
                started = time.perf_counter()
                answer = await client.post(path, content=body, headers=headers)
                if answer.status_code == 429:
                    throttled += 1
                    await asyncio.sleep(0.01)
                    continue
                if answer.status_code >= 300:
                    raise SystemExit(f"bridge answered {answer.status_code}: {answer.text[:200]}")
                latencies.append(time.perf_counter() - started)
                break

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "seconds": elapsed, "records": requests * per_request, "throttled_429": throttled,
        "accepted_per_s": requests * per_request / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def run_case(name: str, records: int, batch: int, connections: int) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix=f"aico-bench-bridge-{name}-") as tmp:
        env = case_env(Path(tmp))
        with running_backend(env) as backend:
            token = subprocess.run([str(BIN / "aico"), "bridge", "token"], env=env, check=True,
                                   capture_output=True, text=True).stdout.strip()
            url = f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}"
            if batch == 1:
                payloads, path = [json.loads(b)[0] for b in bodies(1)], "/log"
                payloads = [json.dumps(p).encode() for p in payloads]
            else:
                payloads, path = bodies(batch), "/api/v1/logs/batch"
            cpu_before = cpu_seconds(backend.pid)
            started = time.perf_counter()
            figures = asyncio.run(load(url, token, path, payloads, batch, records // batch, connections))
            total = int(figures["records"])
            probe = StoreProbe(env)
            last, last_change = probe.wait_for(total)
            probe.close()
            cpu = cpu_seconds(backend.pid) - cpu_before
    stored_s = last_change - started
    return {"case": name, "batch": batch, "connections": connections, "records": total, "stored": last,
            "accepted_per_s": round(figures["accepted_per_s"], 1),
            "stored_per_s": round(last / stored_s, 1) if stored_s > 0 else 0.0,
            "p50_ms": round(figures["p50_ms"], 2), "p99_ms": round(figures["p99_ms"], 2),
            "throttled_429": int(figures["throttled_429"]),
            "backend_cpu_us_per_record": round(cpu / max(last, 1) * 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--baseline-records", type=int, default=5_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    batched = run_case("batched", args.records, args.batch, args.connections)
    baseline = run_case("single", args.baseline_records, 1, args.connections)
    result = {
        "records": batched["records"], "accepted_per_s": batched["accepted_per_s"],
        "stored_per_s": batched["stored_per_s"], "p50_ms": batched["p50_ms"], "p99_ms": batched["p99_ms"],
        "backend_cpu_us_per_record": batched["backend_cpu_us_per_record"],
        "baseline_accepted_per_s": baseline["accepted_per_s"],
        "ratio": round(float(batched["accepted_per_s"]) / float(baseline["accepted_per_s"]), 2),
        "cases": [batched, baseline],
    }
    if args.json:
        print(json.dumps(result))
        return
    for case in result["cases"]:
        print(f"{case['case']:>8} (batch {case['batch']}, {case['connections']} connections): "
              f"{case['stored']} of {case['records']} stored; accepted {case['accepted_per_s']:>9,.0f} records/s, "
              f"stored {case['stored_per_s']:>9,.0f} records/s; request p50 {case['p50_ms']} ms, "
              f"p99 {case['p99_ms']} ms; 429s {case['throttled_429']}; "
              f"backend CPU {case['backend_cpu_us_per_record']} us/record")
    print(f"ratio batched/single-record POSTs (accepted records/s): {result['ratio']}")


if __name__ == "__main__":
    main()
