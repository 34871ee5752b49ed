"""The store writer: a process of its own that owns the database's single write connection.

libSQL holds the GIL while a statement runs, so a write in the backend process would stall
every other thread there (the receiver, the bridge). Here the collector decodes batch k+1
while this process commits batch k. They talk over a ZeroMQ PAIR socket on ``ipc://``:

    collector -> writer   [b"B", id, rows JSON, row count]     a batch of records to store
                          [b"J", id, topic, payload, reason...] rejected payloads to keep
                          [b"Q"]                                finish and exit
    writer -> collector   [b"R", id, b'{"stored": n, "duplicates": d}']
                          [b"E", id, error text]                nothing was stored; retry later
                          [b"S", b"ready" | error text]         once, after opening the store

A key rotation (``keyset/rotation.py``) needs the store to itself: before each batch the writer
looks at the rekey gate (``store/rekey_gate.py``) and, while a rotation waits, closes its
connection; the next open waits for the rotation to end and uses the new key. Meanwhile batches
wait here and in the collector, unacknowledged: delayed, never lost. An idle writer closes its
connection after ``IDLE_RELEASE_S``, so a rotation never waits on it for long.

Run as ``python -m aico.collector.writer ENDPOINT`` with the settings as JSON on stdin.
"""

from __future__ import annotations

import json
import signal
import sys

import zmq

from aico.backend.child import ParentWatch
from aico.backend.memory import trim
from aico.config.settings import Settings
from aico.errors import AicoError
from aico.store import rekey_gate
from aico.store.repository import LogStore
from aico.store.writer import InsertResult, Reject, encode_rows


def store_rows(store: LogStore, rows: bytes, count: int | None, *, single: bool) -> InsertResult:
    """Store a batch (``encode_rows``) in one transaction; with ``single``, one transaction per record.

    ``single`` (``write_mode: single``) is the spec's original design, the ingest benchmark's baseline.
    """
    if not single:
        return store.insert_batch(rows, count=count)
    results = [store.insert_batch(encode_rows([row]), count=1) for row in json.loads(rows)]
    return InsertResult(sum(r.stored for r in results), sum(r.duplicates for r in results))


#: Quiet this long after a batch, the writer lets its connection go (a key rotation never waits on an idle
#: writer: see store/rekey_gate.py) and, after a burst, hands the freed heap back. Closing the connection
#: also empties its page cache (up to 64 MiB, filled by the burst; the next batch reads its index pages
#: back from the OS's cache).
QUIET_S = rekey_gate.IDLE_RELEASE_S


def serve(settings: Settings, endpoint: str) -> int:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(endpoint)
    try:
        store = LogStore.open(settings, writer=True)
    except AicoError as exc:
        sock.send_multipart([b"S", str(exc).encode()])
        sock.close()
        return 3
    sock.send_multipart([b"S", b"ready"])
    single = settings.core.logging.consumer.write_mode == "single"
    parent = ParentWatch()
    held: LogStore | None = store
    worked = False
    try:
        while True:
            if held is not None and not sock.poll(int(QUIET_S * 1000)):
                # Quiet after batches: the connection is let go, so a key rotation never waits on an idle
                # writer, and a burst's memory (its page cache and freed heap) goes back, once.
                held.close()
                held = None
                if worked:
                    trim()
                worked = False
            if not parent.poll(sock):  # a batch, or the parent's exit (no timer where there is a pidfd)
                if parent.gone():  # the collector is gone: nobody to answer
                    return 1
                continue
            frames = sock.recv_multipart()
            worked = True
            kind = frames[0]
            if kind == b"Q":
                return 0
            batch_id = frames[1]
            try:
                if held is not None and rekey_gate.pending(settings.database_path):
                    held.close()  # a key rotation waits for it; the open below waits for the rotation
                    held = None
                if held is None:
                    held = LogStore.open(settings, writer=True)
                store = held
                if kind == b"B":
                    count = int(frames[3]) if len(frames) > 3 else None
                    result = store_rows(store, frames[2], count, single=single)
                    sock.send_multipart([b"R", batch_id, json.dumps(
                        {"stored": result.stored, "duplicates": result.duplicates}).encode()])
                elif kind == b"J":
                    it = iter(frames[2:])
                    pruned = store.insert_rejects(
                        [Reject(t or None, p, r.decode("utf-8", "replace"), int(n), h.decode())
                         for t, p, r, n, h in zip(it, it, it, it, it, strict=True)],
                        max_rows=settings.core.logging.consumer.reject_max_rows)
                    sock.send_multipart([b"R", batch_id, json.dumps(
                        {"stored": 0, "duplicates": 0, "pruned": pruned}).encode()])
            except AicoError as exc:
                sock.send_multipart([b"E", batch_id, str(exc).encode()])
    finally:
        if held is not None:
            held.close()
        sock.close()
        ctx.term()


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the consumer decides when its writer stops
    # (it commits what it holds first), so the writer takes no SIGINT of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = Settings.model_validate_json(sys.stdin.read())
    sys.exit(serve(settings, sys.argv[1]))


if __name__ == "__main__":
    main()
