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


#: Quiet this long after batches means a burst ended (between batches of one, the writer waits far less).
RELEASE_AFTER_S = 2.0


def release_memory(store: LogStore) -> None:
    """After a burst: empty the page cache (up to 64 MiB, filled by the burst; the next one reads its
    index pages back from the OS's cache) and hand the freed heap back to the system."""
    try:
        store.conn.execute("PRAGMA shrink_memory")
    except ValueError:  # libSQL's error type; nothing lost: the cache stays until the next time
        pass
    trim()


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
    worked = False
    try:
        while True:
            if worked and not sock.poll(int(RELEASE_AFTER_S * 1000)):  # a burst ended: give its memory back, once
                release_memory(store)
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
        store.close()
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
