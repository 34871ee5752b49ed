"""The bus wire format: ``LogEntry`` protobuf frames, or JSON objects, under ``logs.*`` topics.

A bus message is multipart ``[topic, payload, payload, ...]``: the spec's two-frame
``[topic, payload]`` is the common case; a producer may put a batch of records that share
a topic into one message. A payload starting with ``{`` is JSON (a valid ``LogEntry`` never
starts with that byte: it would be field 15 as a deprecated group).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.message import DecodeError

from aico.errors import FieldError, ValidationError
from aico.schema import log_entry_pb2 as pb
from aico.schema.levels import LEVELS
from aico.schema.record import Record, normalize

LogEntry = pb.LogEntry
Ack = pb.Ack

_STRING_FIELDS = (
    "timestamp", "subsystem", "module", "function", "message", "extra", "topic", "file", "trace_id",
    "session_id", "user_id", "error_details", "severity", "origin", "environment", "producer_id",
)
# "{" or leading blanks; never "\n", which is how a LogEntry with a timestamp starts.
_JSON_FIRST_BYTES = (b"{", b" ", b"\t", b"\r")
_LEVEL_NAMES = {number: name for name, number in LEVELS.items()}


def encode(record: Record) -> bytes:
    """One record (already normalised) as ``LogEntry`` bytes."""
    entry = LogEntry()
    for name in _STRING_FIELDS:
        value = record.get(name)
        if value:
            setattr(entry, name, value if isinstance(value, str) else json.dumps(value, default=repr))
    entry.message = record.get("message") or ""
    entry.level = LEVELS[record["level"]]  # type: ignore[assignment]
    if record.get("line") is not None:
        entry.line = record["line"]
    if record.get("seq"):
        entry.seq = record["seq"]
    return entry.SerializeToString()


def entry_to_raw(entry: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {name: getattr(entry, name) or None for name in _STRING_FIELDS}
    raw["message"] = entry.message  # an empty message is still a message
    raw["level"] = _LEVEL_NAMES.get(entry.level, entry.level)
    raw["line"] = entry.line if entry.HasField("line") else None
    raw["seq"] = entry.seq or None
    return raw


def decode(payload: bytes, *, max_record_bytes: int = 262144, max_message_bytes: int = 65536) -> Record:
    """A normalised record from one payload frame; ``ValidationError`` says why not."""
    if len(payload) > max_record_bytes:
        raise ValidationError(
            [FieldError("payload", f"{len(payload)} bytes exceeds the {max_record_bytes}-byte record limit")]
        )
    if not payload:
        raise ValidationError([FieldError("payload", "empty")])
    if payload[:1] in _JSON_FIRST_BYTES:
        try:
            raw = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationError([FieldError("payload", f"malformed JSON: {exc}")]) from None
        return normalize(raw, max_message_bytes=max_message_bytes)
    entry = LogEntry()
    try:
        entry.ParseFromString(payload)
    except DecodeError as exc:
        raise ValidationError([FieldError("payload", f"malformed protobuf: {exc}")]) from None
    return normalize(entry_to_raw(entry), max_message_bytes=max_message_bytes)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def producer_stamp_prefix(producer_id: str) -> bytes:
    """The encoded ``producer_id`` field, to append to a ``LogEntry`` (protobuf merges fields)."""
    return LogEntry(producer_id=producer_id).SerializeToString()


def seq_field(seq: int) -> bytes:
    """The encoded ``seq`` field (number 21, varint)."""
    return b"\xa8\x01" + _varint(seq)
