"""``POST /v1/logs``: OTLP/HTTP logs, as protobuf or OTLP JSON (gzip welcome).

The answer is an ``ExportLogsServiceResponse`` in the request's content type, with
``partial_success`` counting the log records that failed validation (the others are taken);
a request refused whole gets the HTTP status of its error (400, 413, 415, 429 with
``Retry-After``) and a ``google.rpc.Status`` body, as the OTLP/HTTP specification asks.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request, Response
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from aico.bridge.intake import Intake
from aico.bridge.limits import check_count, parse_json, read_body
from aico.bridge.routes import authorize
from aico.errors import AicoError, OverloadedError, UnsupportedMediaError, ValidationError
from aico.otlp.decode import Defaults, count_records, decode, parse_protobuf, stamp_id
from aico.otlp.decode import parse_json as parse_otlp_json

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_TYPES = {"application/x-protobuf": PROTOBUF, "application/protobuf": PROTOBUF, "application/json": JSON}
_GRPC_CODES = {400: 3, 401: 16, 413: 8, 415: 3, 422: 3, 429: 8, 503: 14}  # google.rpc.Code of each refusal

router = APIRouter(dependencies=[Depends(authorize)])


def media_type(request: Request) -> str:
    given = request.headers.get("content-type", "")
    kind = _TYPES.get(given.split(";", 1)[0].strip().lower())
    if kind is None:
        raise UnsupportedMediaError(
            f"Content-Type {given or '(none)'!r} is not OTLP: send application/x-protobuf or application/json")
    return kind


@router.post(
    "/v1/logs", tags=["otlp"], response_class=Response,
    responses={200: {"description": "ExportLogsServiceResponse (partial_success counts rejected records)"},
               400: {"description": "not an ExportLogsServiceRequest"}, 401: {"description": "no or a wrong token"},
               413: {"description": "a limit is passed"}, 415: {"description": "not protobuf or JSON"},
               429: {"description": "the producer is full: send again after Retry-After"},
               503: {"description": "not durable on the bridge's spool in time: send again after Retry-After"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        JSON: {"schema": {"type": "object", "description": "OTLP JSON ExportLogsServiceRequest"}}}}},
)
async def export_logs(request: Request) -> Response:
    """OpenTelemetry logs (OTLP/HTTP). Each record is judged on its own; a client's retry is stored once."""
    intake: Intake = request.app.state.intake
    kind = JSON
    try:
        kind = media_type(request)
        intake.check_room()
        return await _export(intake, kind, await read_body(request, intake.cfg),
                             request.headers.get("idempotency-key"))
    except AicoError as exc:
        return status_response(intake, exc, kind)


async def _export(intake: Intake, kind: str, body: bytes, idempotency_key: str | None) -> Response:
    if kind == PROTOBUF:
        otlp, bad_ids = parse_protobuf(body)
    else:
        otlp, bad_ids = parse_otlp_json(parse_json(body))
    total = count_records(otlp)
    check_count(total, intake.cfg)
    if intake.sink.pressure(total):
        raise intake._overloaded(total)
    defaults = Defaults(subsystem=intake.subsystem, max_message_bytes=intake.max_message_bytes,
                        max_record_bytes=intake.max_record_bytes)
    decoded = decode(otlp, defaults, stamp_id(body, idempotency_key), bad_ids)
    await intake.hand_over(decoded.records)
    counters = intake.counters
    counters.otlp_requests += 1
    counters.rejected += decoded.rejected
    answer = ExportLogsServiceResponse()
    if decoded.rejected:
        answer.partial_success.rejected_log_records = decoded.rejected
        answer.partial_success.error_message = decoded.message
    if kind == PROTOBUF:
        return Response(answer.SerializeToString(), media_type=PROTOBUF)
    return Response(json.dumps(json_format.MessageToDict(answer)), media_type=JSON)


def status_response(intake: Intake, exc: AicoError, kind: str) -> Response:
    """A refusal as ``google.rpc.Status`` (code and message) in the request's content type."""
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    message = str(exc)
    if isinstance(exc, ValidationError):
        message = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or message
        status = 400  # OTLP/HTTP: a request that cannot be read is a 400
    headers = {}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(exc.retry_after_s)
    else:
        intake.counters.refused += 1
    code = _GRPC_CODES.get(status, 13)
    if kind == PROTOBUF:
        return Response(_status_protobuf(code, message), status_code=status, media_type=PROTOBUF, headers=headers)
    return Response(json.dumps({"code": code, "message": message}), status_code=status, media_type=JSON,
                    headers=headers)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _status_protobuf(code: int, message: str) -> bytes:
    """``google.rpc.Status{code, message}`` in protobuf's wire form (fields 1 and 2)."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
