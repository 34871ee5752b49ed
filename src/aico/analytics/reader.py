"""The ETL's reader process (started by ``source.SourceReader``; see there).

``python -m aico.analytics.reader FD``: FD is its end of the socket pair. It receives one job,
then sends a frame per source window (the window's figures, and its rows parsed and pre-checked
as Arrow IPC), then ``{"done": true}``, or ``{"error": ..., "kind": ...}`` when something
failed. It exits when the job is done or when the ETL process stops listening.
"""

from __future__ import annotations

import pickle
import signal
import socket
import sys
import time
from contextlib import closing

from aico.analytics.source import Job, ipc_buffer, recv_frame, send_frame, tune
from aico.analytics.stage import connect, stage
from aico.store.repository import LogStore


def serve(sock: socket.socket) -> None:
    _, payload = recv_frame(sock)
    if payload is None:
        raise ValueError("no job")
    job: Job = pickle.loads(memoryview(payload))  # from the process that started us
    with LogStore.open(job.settings) as store, closing(connect(job.settings.core.analytics.memory_limit)) as con:
        windows = store.iter_since(job.after_id, job.filter, chunk=job.chunk, upto=job.upto)
        while True:
            clock = time.perf_counter()
            chunk = next(windows, None)
            if chunk is None:
                break
            read = time.perf_counter()
            data = ipc_buffer(stage(con, chunk.rows, job.prechecks)) if chunk.rows else None
            meta = {"after_id": chunk.after_id, "last_id": chunk.last_id, "scanned": chunk.scanned,
                    "seconds": {"read": read - clock, "parse": time.perf_counter() - read}}
            del chunk
            send_frame(sock, meta, data)
    send_frame(sock, {"done": True})


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the ETL process decides, and closes our socket
    sock = socket.socket(fileno=int(sys.argv[1]))
    tune(sock)
    try:
        serve(sock)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass  # the ETL process stopped listening (finished, failed or interrupted)
    except Exception as exc:  # noqa: BLE001 - reported to the ETL process, which raises it
        try:
            send_frame(sock, {"error": str(exc), "kind": type(exc).__name__})
        except OSError:
            pass
    finally:
        sock.close()


if __name__ == "__main__":
    main()
