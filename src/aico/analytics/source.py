"""Reading the log store for the ETL: the next window is read while the current one is loaded.

libSQL holds the GIL while it runs a statement, DuckDB releases it while it runs one; so a
thread that reads window n+1 from the store (and turns its rows into an Arrow table) overlaps
with DuckDB working on window n. At most one window waits in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from aico.store.export import SourceChunk

_DONE = object()


@dataclass(frozen=True)
class Window:
    chunk: SourceChunk
    rows: pa.Table  # one column ``j``: the chunk's JSON row texts


def to_arrow(chunk: SourceChunk) -> Window:
    """The rows as an Arrow string column (one join and a C++ split: cheaper than row by row)."""
    if not chunk.rows:
        return Window(chunk, pa.table({"j": pa.array([], pa.large_string())}))
    joined = pa.array(["\n".join(chunk.rows)], pa.large_string())  # JSON texts hold no raw newline
    return Window(chunk, pa.table({"j": pc.split_pattern(joined, "\n").flatten()}))


def prefetch(chunks: Iterator[SourceChunk]) -> Generator[Window, None, None]:
    """``chunks`` in order as ``Window``s, each read and converted ahead of its use by a helper thread.

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
                if not put(to_arrow(chunk)):
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
            assert isinstance(item, Window)
            yield item
    finally:
        stop.set()
        reader.join()  # the store is closed after this: never while a read is running
