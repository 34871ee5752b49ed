"""Soak: everything at once for N minutes, with faults injected on a schedule (not run in CI).

    python bench/soak.py --minutes 10 [--rate 500] [--fault-every 20] [--seed S] [--json]

Runs a backend with every plugin (bus, collector, bridge, retention, analytics: both on short
intervals), two Python producers logging at ``--rate`` records/s each, a frontend client posting
batches to the bridge (again until a 2xx, as the JS client does), ``aico logs tail -f``, searches,
counts, archive runs and ETL runs, and every ``--fault-every`` seconds one fault in turn (seeded):

    writer      SIGKILL of the store writer process (the collector starts a new one)
    bridge      SIGKILL of the bridge process (the backend starts a new one)
    backend     SIGKILL of the whole backend, then a new one (the broker restarted with it)
    producer    SIGKILL of a producer, then a new one on the same spool, carrying on where it was
    disk        the store's disk full for a while (a tmpfs of its own; only as root), then freed

At the end it waits for the producers' flush, then reports, from the store itself: records lost
(goal 0), duplicates (goal 0), peak memory (VmHWM/VmRSS) of every process, and the error counters
of the producers, the collector, the bridge, the searches and tail -f. Exit status 1 if anything
was lost or doubled. What a SIGKILLed producer had not yet written to its spool is not a loss of
the system (the process died holding it) and is reported on its own line, as is what a bound dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchenv import BIN, case_env

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the process walk the tests use
from proctree import children

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "e2e" / "producer_app.py"
AICO = str(BIN / "aico")
FAULTS = ["writer", "bridge", "backend", "producer", "disk"]
BLOCK = 100_000_000  # record indexes of one producer incarnation
SIZE_CAP_MB = 700  # the store's size cap in the soak (about 1.3 million records)
STORE_DISK = "1g"  # the store's own tmpfs (as root), filled whole by the disk fault: room for the cap


def aico(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AICO, *args], env=env, capture_output=True, text=True, timeout=timeout)


def role(cmd: str) -> str:
    """A backend child's name in the report: writer, bridge, or the module it runs (the ETL's processes)."""
    for marker, name in (("aico.collector.writer", "writer"), ("aico.bridge.process", "bridge")):
        if marker in cmd:
            return name
    words = cmd.split()
    if "aico" in " ".join(words[:2]) and "backend" in words:
        return "backend"
    if "-m" in words[:-1]:
        return words[words.index("-m") + 1]
    if "-c" in words:
        return "python -c (multiprocessing: " + " ".join(words[-2:])[:40] + ")"
    return " ".join(words[:3])[:60]


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` in KiB; zeros when it is gone."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


class Soak:
    def __init__(self, args: argparse.Namespace, home: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.home = home
        self.env = case_env(home / "home", **{
            "AICO_CORE__ANALYTICS__FIRST_RUN_DELAY_S": "5", "AICO_CORE__ANALYTICS__INTERVAL_S": "60",
            "AICO_CORE__ANALYTICS__THREADS": "1", "AICO_CORE__LOGGING__RETENTION__CHECK_INTERVAL_S": "10",
            "AICO_CORE__LOGGING__RETENTION__MIN_FREE_DISK_MB": "1", "PYTHONUNBUFFERED": "1",
            # Today's records stay in the database, where they are counted: past the default 100 MB cap
            # (about 190,000 records) retention would archive today's day, and every archived record
            # would count as lost. Archive runs still happen; the cap has tests of its own.
            "AICO_CORE__LOGGING__RETENTION__MAX_SIZE_MB": str(SIZE_CAP_MB)})
        self.disk: Path | None = None
        self.stop = threading.Event()
        self.peak: dict[str, int] = Counter()
        self.counters: Counter[str] = Counter()
        self.backend: subprocess.Popen[str] | None = None
        self.producers: dict[str, dict[str, Any]] = {}
        self.bridge_accepted = 0
        self.tail_lines = 0
        self.faults: list[tuple[float, str]] = []
        self.search_ms: list[float] = []

    # -- processes ----------------------------------------------------------------------------------
    def start_backend(self) -> None:
        log = (self.home / "backend.log").open("a")
        self.backend = subprocess.Popen([AICO, "backend", "start"], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, text=True)
        log.close()
        done = aico(self.env, "gateway", "status", "--wait", "60")
        if done.returncode != 0:
            raise SystemExit(f"soak: the backend did not start: {done.stderr}")

    def start_producer(self, name: str, total: int) -> None:
        """A producer process named ``name`` (same name: same id and spool) logging ``total`` records.

        Each incarnation numbers its records in a block of its own (i = k * BLOCK + n), so what a killed one
        had logged can be told apart from what the next one logs: one thread logs in order, so a killed
        incarnation's stored records must be a prefix of its block, without holes."""
        state = self.producers.setdefault(name, {"kills": 0, "unspooled": 0, "last": {}, "final": None,
                                                 "incarnations": []})
        first = len(state["incarnations"]) * BLOCK
        state["incarnations"].append({"first": first, "total": total, "killed": False, "acknowledged": 0})
        proc = subprocess.Popen([sys.executable, str(APP), "--records", str(total), "--start", str(first),
                                 "--rate", str(self.args.rate), "--name", name, "--flush", "600", "--exc-every", "97",
                                 "--progress", "1"], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        state["proc"] = proc
        state["last"] = {}
        threading.Thread(target=self._read_producer, args=(name, proc), daemon=True).start()

    def _read_producer(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                data = json.loads(line)
                state = self.producers[name]
                if "progress" in data:
                    state["last"] = data["progress"]
                if "flushed" in data and state["proc"] is proc:
                    state["final"] = data

    # -- load -----------------------------------------------------------------------------------
    def bridge_client(self) -> None:
        url = f"http://127.0.0.1:{self.env['AICO_CORE__BRIDGE__PORT']}/api/v1/logs/batch"
        token = aico(self.env, "bridge", "token").stdout.strip()
        seq = 0
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as http:
            while not self.stop.is_set():
                batch = []
                for _ in range(50):
                    seq += 1
                    batch.append({"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "INFO",
                                  "module": "web.soak", "function": "send", "topic": "ui/soak",
                                  "message": f"page {seq}", "producer_id": "soak-page", "seq": seq,
                                  "extra": {"i": seq}})
                while True:  # the same batch until it is taken, as the JS client does
                    try:
                        answer = http.post(url, json=batch)
                    except httpx.HTTPError:
                        self.counters["bridge connection errors"] += 1
                        time.sleep(0.2)  # pacing a retry against a restarting bridge
                        continue
                    if answer.status_code >= 500 and answer.status_code != 503:  # 503: not durable yet, again
                        self.counters["bridge 5xx"] += 1
                    if answer.status_code < 300:
                        self.bridge_accepted = seq
                        break
                    self.counters[f"bridge {answer.status_code}"] += 1
                    time.sleep(0.2)
                time.sleep(0.5)  # 100 records/s from the page

    def tail(self) -> None:
        while not self.stop.is_set():
            proc = subprocess.Popen([AICO, "logs", "tail", "-f", "-n", "0", "-o", "jsonl", "-p", "error"],
                                    env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.tail_proc = proc
            assert proc.stdout is not None
            for _ in proc.stdout:
                self.tail_lines += 1
                if self.stop.is_set():
                    break
            proc.kill()
            err = proc.stderr.read() if proc.stderr else ""
            proc.wait()
            if "Traceback" in err:
                self.counters["tail -f tracebacks"] += 1
            if not self.stop.is_set():
                self.counters["tail -f restarts"] += 1
                time.sleep(1)  # the store may be between backends

    def readers(self) -> None:
        queries = [("logs", "ls", "failed", "-n", "20", "-o", "jsonl"), ("logs", "count", "-p", "error"),
                   ("logs", "ls", "--since", "5m", "-p", "warning", "-n", "50"),
                   ("logs", "stats", "--since", "1h"), ("logs", "archive", "run"), ("analytics", "report")]
        k = 0
        while not self.stop.wait(2.0):
            args = queries[k % len(queries)]
            k += 1
            t0 = time.monotonic()
            done = aico(self.env, *args)
            if args[1] in ("ls", "count"):
                self.search_ms.append((time.monotonic() - t0) * 1000)
            if "Traceback" in done.stderr:
                last = done.stderr.strip().splitlines()[-1][:160]
                self.counters[f"traceback: aico {' '.join(args[:2])}: {last}"] += 1
                with (self.home.parent / f"soak-traceback-{os.getpid()}.txt").open("a") as fh:
                    fh.write(f"aico {' '.join(args)}\n{done.stderr}\n")
            if done.returncode != 0:
                self.counters[f"exit {done.returncode}: aico {' '.join(args[:2])}"] += 1

    def sample_memory(self) -> None:
        while not self.stop.wait(0.5):
            self._sample()

    def _sample(self) -> None:
        procs: list[tuple[str, int]] = []
        if self.backend is not None:
            procs.append(("backend", self.backend.pid))
            procs += [(role(cmd), pid) for pid, cmd in children(self.backend.pid)]
        procs += [(f"producer {name}", s["proc"].pid) for name, s in self.producers.items()]
        for name, pid in procs:
            rss, hwm = memory_kb(pid)
            if name and (rss or hwm):
                self.peak[name] = max(self.peak[name], rss, hwm)

    # -- faults ---------------------------------------------------------------------------------
    def inject(self, fault: str) -> None:
        self.faults.append((time.monotonic(), fault))
        assert self.backend is not None
        if fault in ("writer", "bridge"):
            marker = "aico.collector.writer" if fault == "writer" else "aico.bridge.process"
            for pid, cmd in children(self.backend.pid):
                if marker in cmd:
                    os.kill(pid, signal.SIGKILL)
        elif fault == "backend":
            self._sample()
            self.backend.kill()
            self.backend.wait()
            self.start_backend()
        elif fault == "producer":
            name = self.rng.choice(sorted(self.producers))
            state = self.producers[name]
            if state["proc"].poll() is None:
                self._sample()
                state["proc"].kill()
                state["proc"].wait()
                state["kills"] += 1
                last, now = state["last"], state["incarnations"][-1]
                now["killed"] = True
                now["acknowledged"] = last.get("acknowledged", 0)
                # records logged and not yet on the spool died with the process: not a loss of the system
                state["unspooled"] += max(0, last.get("produced", 0) - last.get("spooled", 0))
                self.start_producer(name, max(0, now["total"] - last.get("produced", 0)))
        elif fault == "disk" and self.disk is not None:
            ballast = self.disk / "ballast"
            try:
                with ballast.open("ab") as fh:
                    while True:
                        fh.write(b"\0" * 65536)
            except OSError:
                pass
            time.sleep(self.args.fault_every / 2)  # the disk stays full for a while
            ballast.unlink(missing_ok=True)

    def _ids_sql(self, name: str) -> str:
        state = json.loads((Path(self.env["AICO_HOME"]) / "spool" / name / "state.json").read_text())
        self.producers[name]["id"] = state["producer_id"]
        return "'" + state["producer_id"].replace("'", "''") + "'"

    def sql(self, query: str) -> list[dict[str, Any]]:
        done = aico(self.env, "logs", "sql", query, "-o", "json", timeout=600)
        if done.returncode != 0:
            raise SystemExit(f"soak: {query}: {done.stderr}")
        return list(json.loads(done.stdout))

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        if os.geteuid() == 0 and "disk" in self.args.faults:
            self.disk = self.home / "store-disk"
            self.disk.mkdir()
            mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STORE_DISK}", "tmpfs", str(self.disk)])
            if mounted.returncode == 0:
                self.env["AICO_CORE__LOGGING__PATHS__DATABASE"] = str(self.disk / "aico.db")
            else:
                self.disk = None
        try:
            return self._run()
        finally:
            if self.disk is not None:
                subprocess.run(["umount", "-l", str(self.disk)])

    def _run(self) -> dict[str, Any]:
        started = time.monotonic()
        self.start_backend()
        for name in ("soak-a", "soak-b"):
            self.start_producer(name, int(self.args.rate * self.args.minutes * 60))
        workers = [threading.Thread(target=t, daemon=True)
                   for t in (self.bridge_client, self.tail, self.readers, self.sample_memory)]
        for w in workers:
            w.start()
        faults = [f for f in self.args.faults if f != "disk" or self.disk is not None]
        end = started + self.args.minutes * 60
        k = 0
        while time.monotonic() < end - self.args.fault_every / 2:
            time.sleep(min(self.args.fault_every, max(0.0, end - time.monotonic())))  # the fault schedule
            if faults and time.monotonic() < end - 5:
                fault = faults[k % len(faults)] if not self.args.shuffle else self.rng.choice(faults)
                k += 1
                print(f"soak: {time.monotonic() - started:6.0f}s fault {fault}", file=sys.stderr)
                self.inject(fault)
        # wind down: the page stops, the producers finish and flush, then everything is counted
        self.stop.set()
        for w in workers[:1]:
            w.join(120)
        for name, state in self.producers.items():
            try:
                state["proc"].wait(900)
            except subprocess.TimeoutExpired:
                state["proc"].kill()
                self.counters[f"producer {name} did not finish"] += 1
        self._sample()
        status = json.loads(aico(self.env, "gateway", "status", "--json").stdout or "{}")
        bridge_total = self.bridge_accepted
        deadline = time.monotonic() + 300
        report = self._count(bridge_total)
        while (report["lost"] or report["missing_bridge"]) and time.monotonic() < deadline:
            time.sleep(2)  # the last records still on their way (polling the store, at the end only)
            report = self._count(bridge_total)
        if self.backend is not None:
            self.backend.send_signal(signal.SIGTERM)
            self.backend.wait(120)
        tail = getattr(self, "tail_proc", None)
        if tail is not None and tail.poll() is None:
            tail.kill()
        plugins = status.get("plugins") or {}
        report.update({
            "minutes": self.args.minutes, "seed": self.args.seed, "rate_per_producer": self.args.rate,
            "faults": Counter(f for _, f in self.faults),
            "peak_memory_mib": {k: round(v / 1024, 1) for k, v in sorted(self.peak.items())},
            "collector": {k: plugins.get("log_consumer", {}).get(k) for k in
                          ("received", "stored", "duplicates", "rejected", "store_errors", "last_error")},
            "bridge": {k: plugins.get("log_bridge", {}).get(k) for k in ("accepted", "rejected", "restarts")},
            "producers": {name: {"kills": s["kills"], "unspooled_at_kill": s["unspooled"],
                                 "dropped": (s["final"] or {}).get("stats", {}).get("dropped"),
                                 "flushed": (s["final"] or {}).get("flushed")}
                          for name, s in self.producers.items()},
            "tail_f_lines": self.tail_lines,
            "search_ms_p50": sorted(self.search_ms)[len(self.search_ms) // 2] if self.search_ms else None,
            "errors": dict(self.counters),
            "elapsed_s": round(time.monotonic() - started, 1),
        })
        return report

    def _count(self, bridge_total: int) -> dict[str, Any]:
        """Lost and doubled records, from the store: per producer incarnation, and for the page."""
        lost = dup = 0
        per: dict[str, Any] = {}
        for name, state in self.producers.items():
            pid = self._ids_sql(name).strip("'")
            rows = {int(r["k"]): r for r in self.sql(
                f"SELECT CAST(extra->>'i' AS INTEGER) / {BLOCK} AS k, count(*) AS n, "
                f"count(DISTINCT extra->>'i') AS d, max(CAST(extra->>'i' AS INTEGER)) AS top "
                f"FROM logs WHERE producer_id = '{pid}' AND module = 'e2e.app' GROUP BY 1")}
            dropped = sum(((state["final"] or {}).get("stats", {}).get("dropped") or {}).values())
            incarnations = []
            for k, inc in enumerate(state["incarnations"]):
                row = rows.get(k, {"n": 0, "d": 0, "top": None})
                stored = int(row["d"])
                if inc["killed"]:  # a prefix of its block: no holes (its tail may have died unspooled with it)
                    span = (int(row["top"]) - inc["first"] + 1) if row["top"] is not None else 0
                    missing = span - stored
                else:
                    missing = inc["total"] - stored
                incarnations.append({"logged": inc["total"] if not inc["killed"] else "killed", "stored": stored,
                                     "missing": missing})
                lost += max(0, missing)
                dup += int(row["n"]) - stored
            lost = max(0, lost - dropped)
            per[name] = {"incarnations": incarnations, "dropped_by_bound": dropped,
                         "unspooled_at_kill": state["unspooled"]}
        page = self.sql("SELECT count(*) AS n, count(DISTINCT seq) AS d FROM logs "
                        "WHERE producer_id = 'frontend:soak-page'")[0]
        dup += int(page["n"]) - int(page["d"])
        return {"lost": lost, "duplicates": dup, "per_producer": per, "bridge_sent": bridge_total,
                "bridge_stored": page["d"], "missing_bridge": max(0, bridge_total - int(page["d"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=500.0, help="records/s of each of the two producers")
    ap.add_argument("--fault-every", type=float, default=20.0, help="seconds between faults (0: no faults)")
    ap.add_argument("--faults", default=",".join(FAULTS), help=f"which, in turn (default {','.join(FAULTS)})")
    ap.add_argument("--shuffle", action="store_true", help="pick each fault at random (seeded) instead of in turn")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    args.faults = [f for f in args.faults.split(",") if f] if args.fault_every > 0 else []
    args.fault_every = args.fault_every or args.minutes * 60
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        ap.error(f"unknown faults: {', '.join(sorted(unknown))} (known: {', '.join(FAULTS)})")
    with tempfile.TemporaryDirectory(prefix="aico-soak-") as tmp:
        report = Soak(args, Path(tmp)).run()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(f"soak: {report['minutes']} min, seed {report['seed']}, faults {dict(report['faults'])}")
        print(f"  records lost: {report['lost']} (goal 0)   duplicates: {report['duplicates']} (goal 0)   "
              f"bridge: {report['bridge_stored']} of {report['bridge_sent']} stored")
        for name, p in report["per_producer"].items():
            print(f"  {name}: {p}")
        print(f"  peak memory MiB: {report['peak_memory_mib']}")
        print(f"  collector: {report['collector']}")
        print(f"  bridge: {report['bridge']}   producers: {report['producers']}")
        print(f"  tail -f lines: {report['tail_f_lines']}   search p50 ms: {report['search_ms_p50']}")
        print(f"  errors: {report['errors']}")
    sys.exit(1 if report["lost"] or report["duplicates"] or report["missing_bridge"] else 0)


if __name__ == "__main__":
    main()
