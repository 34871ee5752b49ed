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
import time

import zmq

from aico.backend.child import ParentWatch
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
    used = time.monotonic()
    try:
        while True:
            idle_ms = max(1, int((used + rekey_gate.IDLE_RELEASE_S - time.monotonic()) * 1000)) if held else 1000
            if not sock.poll(min(idle_ms, 1000)):
                if parent.gone():  # the collector is gone: nobody to answer
                    return 1
                if held is not None and time.monotonic() - used >= rekey_gate.IDLE_RELEASE_S:
                    held.close()  # idle: a key rotation must not wait on this connection
                    held = None
                continue
            frames = sock.recv_multipart()
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
            used = time.monotonic()
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
