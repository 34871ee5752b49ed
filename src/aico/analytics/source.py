"""The ETL's source: a reader process reads and parses windows while this one loads.

libSQL holds the GIL while a statement runs: in a thread of this process it would stall the
loop that drives DuckDB. So a child process (``aico.analytics.reader``) does the reading on the
other core, ahead of the load:

    reader process   libSQL id window -> JSON row texts -> parsed into columns, with the
                     scrubber's pre-checks evaluated (DuckDB in memory, ``stage``) -> Arrow IPC
    this process     Arrow IPC, read in place from the received buffer -> ``scrub.apply``
                     (Python fixes the rows the pre-checks selected) -> ``etl.load_chunk``

The reader gets the pre-check patterns, never the pseudonym key. The two talk over a socket
pair in frames: a header (two lengths), a JSON object, and an optional payload (the job,
pickled, to the reader; a window's Arrow IPC stream back). A receiver thread here takes each
window as it comes; the reader blocks while it is full, so at most two windows wait. Closing
our end stops the reader (its next send fails); it ignores SIGINT and has its own session, so
a Ctrl-C reaches only this process, which rolls back and then closes the reader. Unscrubbed
text is only ever in the memory of the two.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from aico import errors
from aico.analytics.scrub import Prechecks
from aico.backend.child import Child
from aico.config.settings import Settings
from aico.errors import StoreError
from aico.store.filters import LogFilter

_HEADER = struct.Struct("!IQ")  # JSON length, payload length
_BUFFER_BYTES = 4 << 20
STOP_TIMEOUT_S = 10.0
#: The reader allocates and frees tens of MB per window: keep freed memory for the next window
#: instead of handing it back to the kernel and taking page faults (zeroed pages) on every window
#: (glibc malloc; mimalloc, Arrow's default pool). About 6% of the reader's CPU.
READER_ALLOCATOR = {
    "MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 30), "MIMALLOC_PURGE_DELAY": "-1",
}


@dataclass(frozen=True)
class Window:
    """One source id window ``(after_id, last_id]``, read by the reader.

    ``scanned`` counts every record of the window; ``rows`` holds those that passed the filters,
    parsed and pre-checked (``stage.stage``, NOT yet scrubbed), or is None when none did.
    """

    after_id: int
    last_id: int
    scanned: int
    rows: pa.Table | None
    seconds: dict[str, float] = field(default_factory=dict)  # the reader's time, by phase


@dataclass(frozen=True)
class Job:
    """What the reader process is to read: ``LogStore.iter_since`` arguments and the pre-checks."""

    settings: Settings
    prechecks: Prechecks
    after_id: int
    upto: int
    chunk: int
    filter: LogFilter | None


# -- frames -----------------------------------------------------------------------------------
def send_frame(sock: socket.socket, meta: dict[str, Any], payload: bytes | pa.Buffer | None = None) -> None:
    body = json.dumps(meta).encode()
    size = 0 if payload is None else len(memoryview(payload))
    sock.sendall(_HEADER.pack(len(body), size) + body)
    if payload is not None:
        sock.sendall(memoryview(payload))


def _recv_into(sock: socket.socket, view: memoryview) -> None:
    while view:
        n = sock.recv_into(view)
        if n == 0:
            raise EOFError
        view = view[n:]


def recv_frame(sock: socket.socket) -> tuple[dict[str, Any], pa.Buffer | None]:
    """The next frame; its payload lands in an Arrow buffer (read in place, pooled memory)."""
    head = bytearray(_HEADER.size)
    _recv_into(sock, memoryview(head))
    length, size = _HEADER.unpack(head)
    body = bytearray(length)
    _recv_into(sock, memoryview(body))
    payload = None
    if size:
        payload = pa.allocate_buffer(size)
        _recv_into(sock, memoryview(payload))
    return json.loads(body), payload


def ipc_buffer(table: pa.Table) -> pa.Buffer:
    """``table`` as an Arrow IPC stream, written once into a buffer of the exact size."""
    measure = pa.MockOutputStream()
    with pa.ipc.new_stream(measure, table.schema) as writer:
        writer.write_table(table)
    buffer = pa.allocate_buffer(measure.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), table.schema) as writer:
        writer.write_table(table)
    return buffer


def tune(sock: socket.socket) -> None:
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, _BUFFER_BYTES)


def error_from(meta: dict[str, Any]) -> errors.AicoError:
    """The reader's error as ours: the same class when it is one of the tree, else a StoreError."""
    kind, message = getattr(errors, str(meta.get("kind")), None), str(meta["error"])
    if isinstance(kind, type) and issubclass(kind, errors.AicoError):
        try:
            return kind(message)
        except TypeError:  # a class that needs more than a message
            pass
    return StoreError(f"the ETL's source reader failed: {meta.get('kind')}: {message}")


# -- this side --------------------------------------------------------------------------------
class SourceReader:
    """The reader process of one run, as an iterator of ``Window``s in id order.

    A thread of this process takes each window off the socket as soon as it is sent (socket
    calls release the GIL), so the reader works ahead while a window loads; at most one waits
    here and one in the reader. Use it as a context manager: leaving stops the thread and the
    reader process (it never outlives the run).
    """

    def __init__(self, job: Job) -> None:
        ours, theirs = socket.socketpair()
        tune(ours)
        try:
            self._child = Child.python("aico.analytics.reader", str(theirs.fileno()), label="ETL source reader",
                                       pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, new_session=True,
                                       env={**os.environ, **READER_ALLOCATOR})
        except OSError as exc:
            ours.close()
            raise StoreError(f"cannot start the ETL's source reader: {exc}") from exc
        finally:
            theirs.close()
        self._sock = ours
        self.waited = 0.0  # seconds this process spent waiting for windows
        self._ready: queue.Queue[tuple[dict[str, Any], pa.Buffer | None] | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        try:
            send_frame(ours, {"job": True}, pickle.dumps(job))
        except OSError:
            pass  # the reader is gone: the receiver says so
        self._receiver = threading.Thread(target=self._receive, name="etl-source", daemon=True)
        self._receiver.start()

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                frame = recv_frame(self._sock)
            except (EOFError, OSError) as exc:
                self._put(exc)
                return
            if not self._put(frame) or "error" in frame[0] or frame[0].get("done"):
                return

    def _put(self, item: tuple[dict[str, Any], pa.Buffer | None] | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Window]:
        while True:
            clock = time.perf_counter()
            item = self._ready.get()
            self.waited += time.perf_counter() - clock
            if isinstance(item, BaseException):
                code = self._child.wait(STOP_TIMEOUT_S)
                raise StoreError(f"the ETL's source reader stopped unexpectedly (exit code {code})") from item
            meta, payload = item
            if "error" in meta:
                raise error_from(meta)
            if meta.get("done"):
                return
            rows = pa.ipc.open_stream(payload).read_all() if payload is not None else None
            yield Window(meta["after_id"], meta["last_id"], meta["scanned"], rows, meta["seconds"])

    def close(self) -> None:
        """Stop the receiver and the reader: our end shut, its next send fails and it exits (killed
        if it hangs)."""
        self._stop.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the receiver if it waits in recv
        except OSError:
            pass
        self._receiver.join()
        self._sock.close()
        self._child.stop(STOP_TIMEOUT_S)  # asked already: our end is shut
