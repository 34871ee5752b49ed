"""``WS /api/v1/logs/ws``: a client streams batches, each acknowledged once durable on the bridge's spool.

Client to server, one JSON text message per batch::

    {"id": <any JSON value naming the batch>, "logs": [record, ...]}

Server to client, one answer per batch, in order::

    {"ack": id, "accepted": n, "rejected": [{"index": i, "errors": [...]}]}   taken (rejected: never)
    {"nack": id, "retry_after": s}                                            full or not durable in time: again later
    {"error": "...", "id": id, "status": 413|422}                             refused whole: do not resend

A client sends again every batch it has no ``ack`` for (after a reconnect, say); records
stamped with ``producer_id`` and ``seq`` are stored once however often they arrive.
Browsers cannot set headers on a WebSocket: the token comes as ``?token=`` or in the
``Authorization`` header, and a browser's ``Origin`` must be in ``core.bridge.cors_origins``.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from aico.bridge.intake import Intake
from aico.bridge.limits import batch_of, body_too_large, parse_json
from aico.errors import AicoError, OverloadedError

router = APIRouter()


@router.websocket("/api/v1/logs/ws")
async def logs_ws(websocket: WebSocket) -> None:
    intake: Intake = websocket.app.state.intake
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in intake.cfg.cors_origins:
        intake.counters.refused += 1
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    auth = websocket.headers.get("authorization", "")
    presented = auth[7:].strip() if auth[:7].lower() == "bearer " else websocket.query_params.get("token")
    if not websocket.app.state.tokens.ok(presented):
        intake.counters.refused += 1
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="missing or wrong token")
        return
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await websocket.send_json(await answer(intake, data))
    except (WebSocketDisconnect, OSError):
        return
    except Exception as exc:  # noqa: BLE001 - a bug: counted; the client gets a close frame (1011), never a dropped connection
        intake.counters.errors += 1
        with suppress(Exception):
            await websocket.close(code=status.WS_1011_INTERNAL_ERROR, reason=type(exc).__name__[:100])


async def answer(intake: Intake, data: str | bytes) -> dict[str, Any]:
    """The answer to one batch message."""
    batch_id = None
    try:
        size = len(data.encode() if isinstance(data, str) else data)
        if size > intake.cfg.max_body_bytes:
            raise body_too_large(size, intake.cfg)
        value = parse_json(data)
        batch_id = value.get("id") if isinstance(value, dict) else None
        judged = await intake.batch(batch_of(value, intake.cfg), size)
    except OverloadedError as exc:
        return {"nack": batch_id, "retry_after": exc.retry_after_s}
    except AicoError as exc:
        intake.counters.refused += 1
        return {"error": str(exc), "id": batch_id, "status": exc.http_status}
    return {"ack": batch_id, "accepted": len(judged.records), "rejected": judged.rejected}
