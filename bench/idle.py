"""What an idle backend costs: CPU and memory of the backend and all its children, with no
records arriving; then whether its memory comes back after a burst.

Two backends run side by side, each in its own home on its own ports: the baseline revision's
code (``bench/baseline.py``: today's way) and the working tree's. Both start with the default
plugins and are sampled over the same ``--seconds`` window, so the machine's noise falls on both:
  cpu          CPU time (user + system, from /proc/<pid>/stat) of the backend and every
               descendant over the window, as a percentage of one core
  rss          the sum of their resident memory (VmRSS), sampled once a second: mean and max
  wakeups      context switches per second over all their threads (a polling loop shows here)
and each process on its own. Sampling starts ``--settle`` seconds after both are ready (by
default past the analytics plugin's first ETL run, 60 s after start: a one-off, then hourly).
Then each backend in turn takes a burst of ``--burst`` records from a producer process
(realistic records, bench/corpus.py); once the store holds them all, no extra child runs and
``--after-settle`` seconds have passed, its memory is sampled again: it should come back within
20% of what it was idle.

    python bench/idle.py [--seconds 60] [--burst 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import aico_argv, baseline_env, baseline_rev, is_baseline_importable
from benchenv import case_env

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
RETURN_WITHIN = 0.20  # memory after a burst: within 20% of idle


def children_of() -> dict[int, list[int]]:
    """Every process's children, by parent pid (one pass over /proc)."""
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry))
    return out


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    kids = children_of()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of stat)


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def switches(pid: int) -> int:
    """Context switches of all the process's threads (each wake-up of a sleeping thread is one)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def label(pid: int, root: int) -> str:
    """What a process is: ``backend``, or the module a child runs (``aico.collector.writer``)."""
    if pid == root:
        return "backend"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return str(pid)
    if "-m" in argv:
        return argv[argv.index("-m") + 1]
    return " ".join(a for a in argv[1:3] if a) or argv[0]


@dataclass
class Sample:
    """One look at a backend's processes: CPU seconds, RSS and switches by pid."""

    at: float
    cpu: dict[int, float] = field(default_factory=dict)
    rss: dict[int, int] = field(default_factory=dict)
    ctx: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    @classmethod
    def take(cls, root: int) -> Sample:
        sample = cls(time.monotonic())
        for pid in tree(root):
            try:
                sample.cpu[pid], sample.rss[pid], sample.ctx[pid] = cpu_seconds(pid), rss_bytes(pid), switches(pid)
                sample.names[pid] = label(pid, root)
            except (OSError, IndexError, ValueError):
                continue  # it went away between the listing and the reading
        return sample


def window(first: Sample, last: Sample, rss_sums: list[int]) -> dict[str, Any]:
    """CPU, switches and memory between two samples, overall and by process."""
    seconds = last.at - first.at
    per: dict[str, dict[str, float]] = {}
    for pid, name in last.names.items():
        cpu = last.cpu[pid] - first.cpu.get(pid, 0.0)
        ctx = last.ctx[pid] - first.ctx.get(pid, 0)
        per[name] = {"cpu_pct": round(100 * cpu / seconds, 3), "rss_mb": round(last.rss[pid] / 2**20, 1),
                     "wakeups_per_s": round(ctx / seconds, 1)}
    return {
        "seconds": round(seconds, 1),
        "cpu_pct": round(sum(p["cpu_pct"] for p in per.values()), 3),
        "rss_mb": round(statistics.mean(rss_sums) / 2**20, 1),
        "rss_max_mb": round(max(rss_sums) / 2**20, 1),
        "wakeups_per_s": round(sum(p["wakeups_per_s"] for p in per.values()), 1),
        "processes": per,
    }


class Backend:
    """One backend (baseline or new) in its own home, started with the default plugins."""

    def __init__(self, home: Path, baseline: bool) -> None:
        self.baseline = baseline
        self.name = "baseline" if baseline else "new"
        env = case_env(home)
        self.env = baseline_env(env) if baseline else env
        if baseline and not is_baseline_importable(self.env):
            raise SystemExit("the baseline's source is not what a child imports: check bench/baseline.py")
        self.proc: subprocess.Popen[bytes] | None = None

    def aico(self, *args: str, **options: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*aico_argv(self.baseline), *args], env=self.env, **options)

    def start(self) -> Backend:
        self.proc = subprocess.Popen([*aico_argv(self.baseline), "backend", "start"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.aico("gateway", "status", "--wait", "60", check=True, stdout=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stored(self) -> int:
        """Records the consumer has stored, from the backend's status file (no store read, no process)."""
        status = json.loads((Path(self.env["AICO_HOME"]) / "run" / "backend.json").read_text())
        return int((status.get("plugins") or {}).get("log_consumer", {}).get("stored", 0))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def backends(tmp: Path, names: list[bool]) -> Iterator[list[Backend]]:
    with ExitStack() as stack:
        started = []
        for baseline in names:
            b = Backend(tmp / ("baseline" if baseline else "new"), baseline)
            stack.callback(b.stop)
            started.append(b.start())
        yield started


def sample_idle(running: list[Backend], seconds: float, settle: float) -> dict[str, dict[str, Any]]:
    """All backends sampled over the same window, once a second (after ``settle`` seconds of quiet)."""
    time.sleep(settle)
    first = {b.name: Sample.take(b.pid) for b in running}
    sums: dict[str, list[int]] = {b.name: [] for b in running}
    last = dict(first)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        for b in running:
            last[b.name] = Sample.take(b.pid)
            sums[b.name].append(sum(last[b.name].rss.values()))
    return {b.name: window(first[b.name], last[b.name], sums[b.name]) for b in running}


PRODUCER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from aico.config import load_settings
from aico.logging.producer import Producer
from corpus import generate
from aico.schema.timestamps import now_utc
total = int(sys.argv[1])
producer = Producer(load_settings(), name="bench-idle", subsystem="bench").start()
chunk = []
for rec in generate(total):
    rec = {k: v for k, v in rec.items() if k not in ("producer_id", "seq")}
    rec["timestamp"] = now_utc()  # today: no retention run takes part in the measurement
    chunk.append(rec)
    if len(chunk) == 500:
        while not producer.offer_many(chunk):
            time.sleep(0.001)  # the queue is full: back off
        chunk = []
while chunk and not producer.offer_many(chunk):
    time.sleep(0.001)
producer.flush(900)
producer.close(5)
"""


def wait_quiet(b: Backend, names: set[str], timeout: float = 600.0) -> None:
    """Until ``b`` runs only the processes it ran idle (no ETL child) and used under 5% of a core for 2 s."""
    deadline = time.monotonic() + timeout
    last = Sample.take(b.pid)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = Sample.take(b.pid)
        busy = sum(now.cpu.values()) - sum(last.cpu.get(p, 0.0) for p in now.cpu)
        if set(now.names.values()) <= names and busy / (now.at - last.at) < 0.05:
            return
        last = now


def burst(b: Backend, records: int, settle: float, seconds: float, idle: dict[str, Any]) -> dict[str, Any]:
    """Send ``records`` through the bus, wait until they are stored and the backend is quiet, let it
    settle, sample memory."""
    names = set(idle["processes"])
    wait_quiet(b, names)
    before = b.stored()
    start = time.monotonic()
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(records), str(Path(__file__).parent)],
                                env=b.env, stdout=subprocess.DEVNULL)
    peak = 0
    last_change, last = time.monotonic(), before
    while True:
        time.sleep(0.5)
        peak = max(peak, sum(Sample.take(b.pid).rss.values()))
        n = b.stored()
        if n != last:
            last, last_change = n, time.monotonic()
        if n - before >= records or time.monotonic() - last_change > 60:
            break
    took = last_change - start
    producer.wait(300)
    wait_quiet(b, names)
    time.sleep(settle)
    sums = []
    for _ in range(max(1, int(seconds))):
        last_sample = Sample.take(b.pid)
        sums.append(sum(last_sample.rss.values()))
        time.sleep(1)
    after = statistics.mean(sums) / 2**20
    idle_rss_mb = idle["rss_mb"]
    return {"records": records, "stored": last - before, "seconds": round(took, 1),
            "records_per_s": round((last - before) / took) if took > 0 else 0, "peak_rss_mb": round(peak / 2**20, 1),
            "rss_after_mb": round(after, 1), "rss_idle_mb": idle_rss_mb,
            "after_over_idle": round(after / idle_rss_mb, 3),
            "returned": after <= idle_rss_mb * (1 + RETURN_WITHIN),
            "processes_after_mb": {last_sample.names[p]: round(r / 2**20, 1) for p, r in last_sample.rss.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="the idle window (both backends at once)")
    ap.add_argument("--settle", type=float, default=75.0,
                    help="seconds from ready to sampling (past the analytics plugin's first ETL run, at 60 s)")
    ap.add_argument("--after-settle", type=float, default=10.0, help="seconds from a quiet backend after a burst "
                    "to sampling its memory")
    ap.add_argument("--burst", type=int, default=1_000_000, help="records in the burst (0: no burst)")
    ap.add_argument("--after-seconds", type=float, default=10.0, help="memory sampled this long after a burst")
    ap.add_argument("--no-baseline", action="store_true", help="the working tree's backend alone")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kinds = [False] if args.no_baseline else [True, False]
    result: dict[str, Any] = {"baseline_rev": baseline_rev(), "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="aico-bench-idle-") as tmp, backends(Path(tmp), kinds) as running:
        result["idle"] = sample_idle(running, args.seconds, args.settle)
        if args.burst:
            result["burst"] = {b.name: burst(b, args.burst, args.after_settle, args.after_seconds,
                                             result["idle"][b.name]) for b in running}
    if args.json:
        print(json.dumps(result))
    else:
        report(result)


def report(r: dict[str, Any]) -> None:
    print(f"idle backend, default plugins, {r['seconds']:.0f} s sampled (baseline {r['baseline_rev']})")
    for name, w in r["idle"].items():
        print(f"  {name:<8} CPU {w['cpu_pct']:6.3f}% of a core   RSS {w['rss_mb']:6.1f} MB (max {w['rss_max_mb']:.1f})"
              f"   {w['wakeups_per_s']:7.1f} wake-ups/s")
        for proc, p in sorted(w["processes"].items(), key=lambda kv: -kv[1]["rss_mb"]):
            print(f"      {proc:<28} CPU {p['cpu_pct']:6.3f}%  RSS {p['rss_mb']:6.1f} MB  {p['wakeups_per_s']:7.1f}/s")
    idle = r["idle"]
    if "baseline" in idle and "new" in idle and idle["new"]["cpu_pct"] > 0:
        print(f"  new/baseline: CPU {idle['new']['cpu_pct'] / idle['baseline']['cpu_pct']:.2f}x, "
              f"RSS {idle['new']['rss_mb'] / idle['baseline']['rss_mb']:.2f}x")
    for name, b in (r.get("burst") or {}).items():
        print(f"  burst {name:<8} {b['stored']:,} of {b['records']:,} stored in {b['seconds']} s "
              f"({b['records_per_s']:,}/s), peak RSS {b['peak_rss_mb']} MB; after: {b['rss_after_mb']} MB = "
              f"{b['after_over_idle']}x idle -> {'returned' if b['returned'] else 'NOT returned'} within 20%")


if __name__ == "__main__":
    main()
