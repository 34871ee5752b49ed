"""Request limits: body size (after gzip decoding), the batch's shape and its record count."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import ClientDisconnect, Request

from aico.config.settings import Bridge
from aico.errors import BridgeError, ClientGoneError, FieldError, PayloadTooLargeError, ValidationError
from aico.schema.jsondepth import MAX_JSON_DEPTH, cut_deeper_than, too_deep
from aico.schema.record import loads

# A body holds records (one level) in a batch array (one more) in {"logs": [...]} (one more):
# past that, a value is too deep for any record, so it is cut (``jsondepth``) before parsing, and
# the record that held it is rejected on its own, naming the depth limit.
BODY_DEPTH = MAX_JSON_DEPTH + 3


def body_too_large(size: int | str, cfg: Bridge) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"body of {size} bytes is over the limit of {cfg.max_body_bytes} bytes (core.bridge.max_body_bytes)"
    )


async def read_body(request: Request, cfg: Bridge) -> bytes:
    """The request body, gunzipped if so encoded; 413 past ``max_body_bytes`` either way."""
    limit = cfg.max_body_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise body_too_large(int(length), cfg)
    chunks = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise body_too_large(f"more than {limit}", cfg)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGoneError(f"client disconnected after {size} bytes of its body") from None
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BridgeError(f"unsupported Content-Encoding {encoding!r}: send gzip or identity")
    return gunzip(body, cfg)


def gunzip(body: bytes, cfg: Bridge) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, cfg.max_body_bytes + 1)
    except zlib.error as exc:
        raise BridgeError(f"body is not valid gzip: {exc}") from None
    if len(out) > cfg.max_body_bytes or inflater.unconsumed_tail:
        raise body_too_large(f"more than {cfg.max_body_bytes} (after gzip decoding)", cfg)
    if not inflater.eof:
        raise BridgeError("body is not valid gzip: truncated")
    return out


def parse_json(body: bytes | str) -> Any:
    """The body's JSON; values nested past ``BODY_DEPTH`` are cut, so only their records are rejected."""
    try:
        try:
            return loads(body, max_depth=None)
        except ValueError as exc:  # UnicodeDecodeError included
            # Only a body a parser refused is scanned for depth (orjson stops at 1,024 levels):
            # bodies within that are judged record by record, cheaply, in ``normalize``.
            if isinstance(exc, UnicodeDecodeError) or not too_deep(body, BODY_DEPTH + 1):
                raise
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return loads(cut_deeper_than(data, BODY_DEPTH), max_depth=None)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError([FieldError("body", f"malformed JSON: {exc}")]) from None


def batch_of(value: Any, cfg: Bridge) -> list[Any]:
    """The records of a batch: a JSON array, or an object with a ``logs`` array; 413 past the count limit."""
    logs = value.get("logs") if isinstance(value, dict) else value
    if not isinstance(logs, list):
        raise ValidationError([FieldError("body", 'must be a JSON array of records or an object {"logs": [...]}')])
    check_count(len(logs), cfg)
    return logs


def check_count(count: int, cfg: Bridge) -> None:
    if count > cfg.max_batch_records:
        raise PayloadTooLargeError(
            f"batch of {count} records is over the limit of {cfg.max_batch_records} records "
            "(core.bridge.max_batch_records)"
        )
