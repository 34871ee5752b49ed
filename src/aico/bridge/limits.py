"""Request limits: body size (after gzip decoding), the batch's shape and its record count."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import Request

from aico.config.settings import Bridge
from aico.errors import BridgeError, FieldError, PayloadTooLargeError, ValidationError
from aico.schema.record import loads


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
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(f"more than {limit}", cfg)
        chunks.append(chunk)
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
    try:
        return loads(body)
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
