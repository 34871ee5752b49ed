"""The one log record schema, shared by every stop on the road.

Fields follow ``unified-logging.md`` plus ``subsystem`` from ``log-consumer-service.md``,
plus the delivery stamp (``producer_id``, ``seq``) the collector uses to store each record once.
``COLUMNS`` is the order of the store's columns, of ``to_row`` tuples, and of the exports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from aico.errors import FieldError, ValidationError
from aico.schema.jsondepth import DEPTH_MESSAGE, MAX_JSON_DEPTH, too_deep
from aico.schema.levels import parse_level
from aico.schema.timestamps import normalize_timestamp

REQUIRED = ("timestamp", "level", "module", "function", "topic", "message")
TEXT_FIELDS = (
    "subsystem", "file", "user_id", "trace_id", "session_id", "severity", "origin", "environment",
    "producer_id",
)
JSON_FIELDS = ("extra", "error_details")
COLUMNS = (
    "timestamp", "level", "subsystem", "module", "function", "file", "line", "topic", "message",
    "user_id", "trace_id", "session_id", "error_details", "extra", "severity", "origin",
    "environment", "producer_id", "seq",
)
DEFAULT_SUBSYSTEM = "unknown"
MAX_ID_CHARS = 256
MAX_FIELD_CHARS = 1024

Record = dict[str, Any]
Row = tuple[Any, ...]  # a record's values in COLUMNS order
_KNOWN = frozenset(COLUMNS) | {"function_name"}


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8, not ASCII-escaped, no lone surrogates). orjson for what it can
    take (NaN becomes null); the standard library for the rest (integers past 64 bits, lone
    surrogates, other key types). ``ValueError`` for a value too deep or circular to write."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError included
        try:
            return valid_text(json.dumps(value, ensure_ascii=False, default=repr, separators=(",", ":")))
        except RecursionError:
            raise ValueError(DEPTH_MESSAGE) from None


def loads(text: str | bytes, *, max_depth: int | None = MAX_JSON_DEPTH) -> Any:
    """JSON text to values: orjson, or the standard library for what orjson refuses (NaN, lone surrogates);
    ``ValueError`` if neither takes it, or if it nests deeper than ``max_depth`` (``jsondepth``)."""
    if max_depth is not None and too_deep(text, max_depth):
        raise ValueError(DEPTH_MESSAGE if max_depth == MAX_JSON_DEPTH else
                         f"JSON nested deeper than {max_depth} levels (the JSON depth limit)")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            return json.loads(text)
        except RecursionError:
            raise ValueError(DEPTH_MESSAGE) from None


def _json_object(name: str, value: Any, errors: list[FieldError]) -> str | None:
    if value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = loads(value)
        except ValueError as exc:
            if str(exc) == DEPTH_MESSAGE:
                errors.append(FieldError(name, DEPTH_MESSAGE))
                return None
            if name == "error_details":  # a bare stack or message from a frontend
                return dumps({"message": value})
            errors.append(FieldError(name, "must be a JSON object"))
            return None
        value = parsed
    if type(value) is not dict:
        if not isinstance(value, Mapping):
            errors.append(FieldError(name, f"must be an object, got {type(value).__name__}"))
            return None
        value = dict(value)
    if not value:
        return None
    try:
        text = dumps(value)
    except ValueError as exc:  # circular, or too deep for any writer
        errors.append(FieldError(name, str(exc)))
        return None
    if too_deep(text, MAX_JSON_DEPTH):
        errors.append(FieldError(name, DEPTH_MESSAGE))
        return None
    return text


def _text(value: str) -> str:
    return value if value.isascii() else valid_text(value)


def normalize(raw: Mapping[str, Any], *, max_message_bytes: int = 65536) -> Record:
    """Validate ``raw`` and return a record with every field of ``COLUMNS``.

    Levels are canonicalised, timestamps made UTC ISO-8601 with microseconds, JSON fields
    serialised; unknown keys are kept under ``extra`` rather than lost. Raises
    ``ValidationError`` listing every field that is wrong. (The bridge runs this for every
    record a frontend sends: it is written for speed, which is why it looks repetitive.)
    """
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise ValidationError([FieldError("record", f"must be a JSON object, got {type(raw).__name__}")])
    errors: list[FieldError] = []
    out: Record = dict.fromkeys(COLUMNS)
    get = raw.get
    if get("function") is None and isinstance(get("function_name"), str):
        raw = {**raw, "function": raw["function_name"]}  # the consumer document's name; judged as function is
        get = raw.get

    for name in REQUIRED:
        if get(name) is None:
            errors.append(FieldError(name, "is required"))
    timestamp = get("timestamp")
    if timestamp is not None:
        try:
            out["timestamp"] = normalize_timestamp(timestamp)
        except ValueError as exc:
            errors.append(FieldError("timestamp", str(exc)))
    level = get("level")
    if level is not None:
        try:
            out["level"] = parse_level(level)
        except ValidationError as exc:
            errors.extend(exc.errors)
    for name in ("module", "function", "topic"):
        value = get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            errors.append(FieldError(name, "must be a non-empty string"))
        elif len(value) > MAX_FIELD_CHARS:
            errors.append(FieldError(name, f"longer than {MAX_FIELD_CHARS} characters"))
        else:
            out[name] = _text(value)
    message = get("message")
    if message is not None:
        if not isinstance(message, str):
            errors.append(FieldError("message", f"must be a string, got {type(message).__name__}"))
        elif len(message) * 4 > max_message_bytes and len(message.encode()) > max_message_bytes:
            errors.append(
                FieldError("message", f"{len(message.encode())} bytes exceeds the {max_message_bytes}-byte limit")
            )
        else:
            out["message"] = _text(message)
    for name in TEXT_FIELDS:
        value = get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            errors.append(FieldError(name, f"must be a string, got {type(value).__name__}"))
        elif len(value) > MAX_FIELD_CHARS:
            errors.append(FieldError(name, f"longer than {MAX_FIELD_CHARS} characters"))
        else:
            out[name] = _text(value)
    line = get("line")
    if line is not None:
        if isinstance(line, bool) or not isinstance(line, int) or line < 0 or line > 2**31 - 1:
            errors.append(FieldError("line", "must be a non-negative integer"))
        else:
            out["line"] = line
    seq = get("seq")
    if seq is not None:
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq > 2**63 - 1:
            errors.append(FieldError("seq", "must be a non-negative integer"))
        else:
            out["seq"] = seq
    for name in JSON_FIELDS:
        value = get(name)
        if value is not None:
            out[name] = _json_object(name, value, errors)

    unknown = raw.keys() - _KNOWN
    if unknown and not errors:
        extra = loads(out["extra"]) if out["extra"] else {}
        for key, value in raw.items():
            if key in unknown:
                extra.setdefault(str(key), value)
        try:
            out["extra"] = dumps(extra)
        except ValueError as exc:
            errors.append(FieldError("extra", str(exc)))
        else:
            if too_deep(out["extra"], MAX_JSON_DEPTH):
                errors.append(FieldError("extra", DEPTH_MESSAGE))
    if errors:
        raise ValidationError(errors)
    if out["subsystem"] is None:
        out["subsystem"] = DEFAULT_SUBSYSTEM
    return out


def valid_text(text: str) -> str:
    """``text`` with any lone surrogate (a JSON ``"\\ud800"`` escape decodes to one) replaced by U+FFFD:
    such a string cannot be UTF-8 encoded, so it could be neither sent nor stored."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def to_row(record: Record) -> Row:
    return tuple(record[c] for c in COLUMNS)


def topic_for(subsystem: str, module: str) -> bytes:
    """The bus topic of a record: ``logs.<subsystem>.<module>``."""
    return f"logs.{subsystem}.{module}".encode()
