"""An application that only uses stdlib logging after ``aico.logging.install()``: the e2e producer.

Record i has message "rec <i> ..." and extra {"i": i}; every --exc-every-th carries an exception.
Prints one JSON line of producer figures when done (and every --progress seconds if given).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import threading
import time

import aico.logging


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0, help="first record index")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="e2e-app")
    ap.add_argument("--exc-every", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.0, help="records/s per thread (0: as fast as possible)")
    ap.add_argument("--flush", type=float, default=60.0)
    ap.add_argument("--progress", type=float, default=0.0)
    ap.add_argument("--marker", default="", help="text put in every record's message")
    ap.add_argument("--hold", action="store_true", help="after logging, wait for stdin to close")
    ap.add_argument("--go", action="store_true",
                    help="log one warm-up record (extra i=-1), flush, say ready, wait for a line on stdin")
    args = ap.parse_args()

    aico.logging.install(name=args.name, subsystem="e2e")
    log = logging.getLogger("e2e.app")
    if args.go:
        log.info("warm-up", extra={"i": -1})
        print(json.dumps({"ready": aico.logging.flush(60)}), flush=True)
        sys.stdin.readline()
    per_thread = args.records // args.threads

    def work(k: int) -> None:
        first = args.start + k * per_thread
        t0 = time.monotonic()
        for n in range(per_thread):
            i = first + n
            if args.rate:
                ahead = n / args.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)  # pacing the producer, not waiting for a result
            if args.exc_every and i % args.exc_every == 0:
                try:
                    raise ZeroDivisionError(f"division {i}")
                except ZeroDivisionError:
                    log.exception("rec %d failed", i, extra={"i": i, "thread": k})
            else:
                log.info("rec %d from thread %d with some text%s", i, k, args.marker, extra={"i": i, "thread": k})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(args.threads)]
    for t in threads:
        t.start()
    if args.progress:
        total = per_thread * args.threads + (1 if args.go else 0)
        while any(t.is_alive() for t in threads) or (args.hold and aico.logging.stats()["sent"] < total):
            print(json.dumps({"progress": aico.logging.stats(), "rss_kb": _rss_kb()}), flush=True)
            time.sleep(args.progress)
    for t in threads:
        t.join()
    print(json.dumps({"logged": per_thread * args.threads, "stats": aico.logging.stats()}), flush=True)
    if args.hold:
        sys.stdin.read()
    ok = aico.logging.flush(args.flush) if args.flush else None
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"flushed": ok, "stats": aico.logging.stats(), "maxrss_kb": maxrss_kb}), flush=True)


if __name__ == "__main__":
    main()
