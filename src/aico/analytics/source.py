"""Reading the log store for the ETL: the next window is read while the current one is loaded.

libSQL holds the GIL while it runs a statement, DuckDB releases it while it runs one; so a
thread that reads window n+1 from the store overlaps with DuckDB working on window n. At most
one window waits in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator

from aico.store.export import SourceChunk

_DONE = object()


def prefetch(chunks: Iterator[SourceChunk]) -> Generator[SourceChunk, None, None]:
    """``chunks`` in order, each read ahead of its use by a helper thread.

    Close the generator (``contextlib.closing``) before closing the store: that stops and joins
    the reader.
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    reader = threading.Thread(target=produce, name="etl-source", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, SourceChunk)
            yield item
    finally:
        stop.set()
        reader.join()  # the store is closed after this: never while a read is running
