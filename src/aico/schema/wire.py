"""The bus wire format: ``LogEntry`` protobuf frames, or JSON objects, under ``logs.*`` topics.

A bus message is multipart ``[topic, payload, payload, ...]``: the spec's two-frame
``[topic, payload]`` is the common case; a producer may put a batch of records that share
a topic into one message. A payload starting with ``{`` is JSON (a valid ``LogEntry`` never
starts with that byte: it would be field 15 as a deprecated group).
"""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf.message import DecodeError

from aico.errors import FieldError, ValidationError
from aico.schema import log_entry_pb2 as pb
from aico.schema.jsondepth import MAX_JSON_DEPTH, too_deep
from aico.schema.levels import LEVELS
from aico.schema.record import (
    COLUMNS,
    DEFAULT_SUBSYSTEM,
    MAX_FIELD_CHARS,
    Record,
    Row,
    dumps,
    loads,
    normalize,
    to_row,
)
from aico.schema.timestamps import CANONICAL

LogEntry = pb.LogEntry
Ack = pb.Ack

_STRING_FIELDS = (
    "timestamp", "subsystem", "module", "function", "message", "extra", "topic", "file", "trace_id",
    "session_id", "user_id", "error_details", "severity", "origin", "environment", "producer_id",
)
_UNSTAMPED_FIELDS = tuple(name for name in _STRING_FIELDS if name != "producer_id")
# "{" or leading blanks; never "\n", which is how a LogEntry with a timestamp starts.
_JSON_FIRST_BYTES = frozenset(b"{ \t\r")
_LEVEL_NAMES = {number: name for name, number in LEVELS.items()}


def encode(record: Record, *, stamp: bool = True) -> bytes:
    """One record (already normalised) as ``LogEntry`` bytes; ``stamp=False`` leaves out
    ``producer_id`` and ``seq`` (the producer appends its own, see ``seq_field``)."""
    entry = LogEntry(level=LEVELS[record["level"]])  # type: ignore[arg-type]  # then field by field: faster
    for name in _STRING_FIELDS if stamp else _UNSTAMPED_FIELDS:
        value = record.get(name)
        if value:
            setattr(entry, name, value if isinstance(value, str) else dumps(value))
    if stamp and record.get("seq"):
        entry.seq = record["seq"]
    if record.get("line") is not None:
        entry.line = record["line"]
    out: bytes = entry.SerializeToString()
    return out


def entry_to_raw(entry: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {name: getattr(entry, name) or None for name in _STRING_FIELDS}
    raw["message"] = entry.message  # an empty message is still a message
    raw["level"] = _LEVEL_NAMES.get(entry.level, entry.level)
    raw["line"] = entry.line if entry.HasField("line") else None
    raw["seq"] = entry.seq or None
    return raw


def decode(payload: bytes, *, max_record_bytes: int = 262144, max_message_bytes: int = 65536) -> Record:
    """A normalised record from one payload frame; ``ValidationError`` says why not."""
    return dict(zip(COLUMNS, decode_row(payload, max_record_bytes=max_record_bytes,
                                        max_message_bytes=max_message_bytes), strict=True))


def decode_row(payload: bytes, max_record_bytes: int = 262144, max_message_bytes: int = 65536) -> Row:
    """``decode`` as a row: the record's values in ``COLUMNS`` order (the collector's hot path)."""
    if len(payload) > max_record_bytes:
        raise ValidationError(
            [FieldError("payload", f"{len(payload)} bytes exceeds the {max_record_bytes}-byte record limit")]
        )
    if not payload:
        raise ValidationError([FieldError("payload", "empty")])
    if payload[0] in _JSON_FIRST_BYTES:
        try:
            raw = loads(payload, max_depth=MAX_JSON_DEPTH + 1)  # the record, then its fields
        except ValueError as exc:  # UnicodeDecodeError included
            raise ValidationError([FieldError("payload", f"malformed JSON: {exc}")]) from None
        return to_row(normalize(raw, max_message_bytes=max_message_bytes))
    entry = LogEntry()
    try:
        entry.ParseFromString(payload)
    except DecodeError as exc:
        raise ValidationError([FieldError("payload", f"malformed protobuf: {exc}")]) from None
    return _row_from_entry(entry, max_message_bytes) or \
        to_row(normalize(entry_to_raw(entry), max_message_bytes=max_message_bytes))


def _json_object_text(text: str) -> str | bool | None:
    """``text`` if it is a non-empty JSON object, None if empty, False if it is not an object."""
    if not text:
        return None
    if text[0] != "{" or too_deep(text, MAX_JSON_DEPTH):
        return False
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(value, dict):
        return False
    return text if value else None


def _row_from_entry(entry: Any, max_message_bytes: int) -> Row | None:
    """The row of a well-formed entry, checked cheaply.

    None when anything needs a closer look: ``normalize`` then gives the exact field errors.
    """
    timestamp = entry.timestamp
    level = _LEVEL_NAMES.get(entry.level)
    module, function, topic, message = entry.module, entry.function, entry.topic, entry.message
    if level is None or not CANONICAL.match(timestamp) or not module or module.isspace() or not function \
            or function.isspace() or not topic or topic.isspace():
        return None
    if len(message) * 4 > max_message_bytes and len(message.encode()) > max_message_bytes:
        return None
    texts = (entry.subsystem, module, function, topic, entry.file, entry.user_id, entry.trace_id,
             entry.session_id, entry.severity, entry.origin, entry.environment, entry.producer_id)
    if max(map(len, texts)) > MAX_FIELD_CHARS:
        return None
    extra = _json_object_text(entry.extra)
    details = _json_object_text(entry.error_details)
    if extra is False or details is False:
        return None
    line = entry.line if entry.HasField("line") else None
    if line is not None and line < 0:
        return None
    # COLUMNS order
    return (timestamp, level, texts[0] or DEFAULT_SUBSYSTEM, module, function, texts[4] or None, line, topic,
            message, texts[5] or None, texts[6] or None, texts[7] or None, details, extra, texts[8] or None,
            texts[9] or None, texts[10] or None, texts[11] or None, entry.seq or None)


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
    out: bytes = LogEntry(producer_id=producer_id).SerializeToString()
    return out


def seq_field(seq: int) -> bytes:
    """The encoded ``seq`` field (number 21, varint)."""
    if seq < 0x80:
        return b"\xa8\x01" + bytes((seq,))
    if seq < 0x4000:
        return b"\xa8\x01" + bytes(((seq & 0x7F) | 0x80, seq >> 7))
    if seq < 0x200000:  # up to two million records: three bytes
        return b"\xa8\x01" + bytes(((seq & 0x7F) | 0x80, ((seq >> 7) & 0x7F) | 0x80, seq >> 14))
    return b"\xa8\x01" + _varint(seq)
