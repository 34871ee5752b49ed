"""The live tail as Server-Sent Events: each new matching record, in arrival order, as it is stored.

It follows the store as ``aico logs tail -f`` does (the highest id, then the matching records
between the last id seen and it), every ``core.dashboard.tail_interval_ms``. Each event's ``id``
is the last record id looked at, heartbeats included, so a client that reconnects (after a
network error, or a restart of the backend) sends it back as ``Last-Event-ID`` (or ``?after=``)
and misses nothing and gets nothing twice. A burst is sent ``BURST`` records a poll, so a page
is never handed 100,000 records at once; it catches up over the next polls.

    event: hello    data: {"after": id}           once, at the start
    event: record   data: {record}                one per record
    event: ping     data: {"after": id}           every HEARTBEAT_S without records
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
import orjson
from fastapi import Request
from fastapi.responses import StreamingResponse

from aico.dashboard.readers import StorePool, record_json
from aico.store.filters import LogFilter

BURST = 500
HEARTBEAT_S = 10.0
RETRY_MS = 1000
STOPPING = threading.Event()  # set when the process stops: every stream ends at its next poll


def _event(kind: str, data: object, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return head.encode() + f"event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def poll(pool: StorePool, flt: LogFilter, last: int) -> tuple[int, list[dict[str, Any]]]:
    """The records of ``flt`` stored after id ``last`` (at most ``BURST``), and the id to go on from."""
    with pool.store() as store:
        top = store.max_id()
        if top <= last:
            return last, []
        rows = list(store.search(replace(flt, after_id=last, upto_id=top, limit=BURST + 1), ascending=True,
                                 by_id=True, page=BURST + 1))
    if len(rows) > BURST:  # more than one burst: go on after the last one sent
        return int(rows[BURST - 1]["id"]), [record_json(r) for r in rows[:BURST]]
    return top, [record_json(r) for r in rows]


def stream(request: Request, pool: StorePool, flt: LogFilter, after: int | None) -> StreamingResponse:
    interval = request.app.state.settings.core.dashboard.tail_interval_ms / 1000

    async def events() -> AsyncIterator[bytes]:
        last: int = after if after is not None else await anyio.to_thread.run_sync(_max_id, pool)
        yield f"retry: {RETRY_MS}\n".encode() + _event("hello", {"after": last}, last)
        quiet_since = time.monotonic()
        while not STOPPING.is_set() and not await request.is_disconnected():
            last, rows = await anyio.to_thread.run_sync(poll, pool, flt, last)
            if rows:
                yield b"".join(_event("record", row, int(row["id"])) for row in rows[:-1]) + \
                    _event("record", rows[-1], last)
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since > HEARTBEAT_S:
                yield _event("ping", {"after": last}, last)
                quiet_since = time.monotonic()
            await anyio.sleep(interval)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _max_id(pool: StorePool) -> int:
    with pool.store() as store:
        return store.max_id()
