"""``ExportLogsServiceRequest`` (protobuf or OTLP JSON) to our records, one by one.

A request that cannot be read at all (a truncated protobuf, JSON that is not OTLP) is refused
whole with ``ValidationError``; otherwise every log record is judged on its own and a bad one
(an id of the wrong length, a time past year 9999, a record over the size limit) is counted
and named in ``Decoded.problems`` while the others are kept.

Each record gets a delivery stamp so that a client's retry is stored once: the sender's own
(``aico.producer_id`` and ``aico.seq`` attributes, as our exporter sends), else one derived
from the request: ``otlp-`` and 32 hex digits of the SHA-256 of the client's
``Idempotency-Key`` or, without one, of the (decoded) request body, with the record's position
in the request (from 1) as its seq. The same bytes sent again give the same stamps.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from aico.errors import FieldError, ValidationError
from aico.otlp import names
from aico.otlp.values import attributes, plain
from aico.schema.levels import parse_level
from aico.schema.record import Record, dumps, normalize

STAMP_PREFIX = "frontend:"  # the bridge's relay prefix: stamps under it are kept as they come
PRODUCER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
MAX_PROBLEMS = 5
YEAR_2000_NS = 946_684_800 * 10**9
FUTURE_GRACE_NS = 86_400 * 10**9
_IDS = (("traceId", "trace_id", 16), ("spanId", "span_id", 8))  # OTLP JSON name, protobuf name, bytes
_M = TypeVar("_M", bound=Message)
_TEXT_FROM_ATTRIBUTES = ("function", "file", "subsystem", "origin", "user_id", "session_id", "environment", "topic",
                         "severity", "trace_id")


@dataclass(frozen=True)
class Defaults:
    """What a record gets when the request does not say."""

    subsystem: str
    origin: str = "otlp"
    module: str = "otlp"
    function: str = "unknown"
    topic: str = "otlp"
    max_message_bytes: int = 65536
    max_record_bytes: int = 262144


@dataclass
class Decoded:
    records: list[Record] = field(default_factory=list)
    rejected: int = 0
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS, each naming its record

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {reason}")

    @property
    def message(self) -> str:
        """``partial_success.error_message``: how many and why (empty when all were taken)."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.problems)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{self.rejected} log records rejected: " + "; ".join(self.problems) + tail


def parse_protobuf(body: bytes) -> tuple[ExportLogsServiceRequest, dict[tuple[int, int, int], str]]:
    request = ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ValidationError([FieldError("body", f"not an ExportLogsServiceRequest protobuf: {exc}")]) from None
    return request, {}


def parse_json(value: Any) -> tuple[ExportLogsServiceRequest, dict[tuple[int, int, int], str]]:
    """An OTLP JSON request (ids in hex, as OTLP JSON has them), and each record's bad id, by position."""
    if not isinstance(value, dict):
        raise ValidationError([FieldError("body", "an OTLP JSON request is an object with resourceLogs")])
    bad = _hex_ids_to_base64(value)
    try:
        return _parse_dict(value, ExportLogsServiceRequest()), bad
    except ValidationError:
        bad.update(_drop_unreadable_records(value))  # one record's bad value must not lose the others
    try:
        return _parse_dict(value, ExportLogsServiceRequest()), bad
    except ValidationError as exc:
        raise ValidationError([FieldError("body", f"not an OTLP JSON ExportLogsServiceRequest: "
                                                  f"{exc.errors[0].message}")]) from None


def _parse_dict(value: Any, message: _M) -> _M:
    try:
        json_format.ParseDict(value, message, ignore_unknown_fields=True, max_recursion_depth=64)
    except (json_format.ParseError, ValueError, TypeError, RecursionError, AttributeError) as exc:
        raise ValidationError([FieldError("body", str(exc)[:300])]) from None
    return message


def _drop_unreadable_records(value: dict[str, Any]) -> dict[tuple[int, int, int], str]:
    """Each log record that cannot be read on its own is emptied (to be rejected by position)."""
    bad: dict[tuple[int, int, int], str] = {}
    for r, resource in enumerate(_list(value, "resourceLogs", "resource_logs")):
        for s, scope in enumerate(_list(resource, "scopeLogs", "scope_logs")):
            logs = _list(scope, "logRecords", "log_records")
            for i, log in enumerate(logs):
                try:
                    _parse_dict(log, LogRecord())
                except ValidationError as exc:
                    logs[i] = {}
                    bad[(r, s, i)] = f"unreadable: {exc.errors[0].message}"
    return bad


def _hex_ids_to_base64(value: dict[str, Any]) -> dict[tuple[int, int, int], str]:
    """OTLP JSON writes trace and span ids in hex where protobuf's JSON has base64: convert them
    in place; a bad one is removed and reported for its record, which is then rejected."""
    bad: dict[tuple[int, int, int], str] = {}
    for r, resource in enumerate(_list(value, "resourceLogs", "resource_logs")):
        for s, scope in enumerate(_list(resource, "scopeLogs", "scope_logs")):
            for i, log in enumerate(_list(scope, "logRecords", "log_records")):
                if not isinstance(log, dict):
                    continue
                for camel, snake, size in _IDS:
                    key = camel if camel in log else snake if snake in log else None
                    if key is None:
                        continue
                    text = log[key]
                    if text in ("", None):
                        del log[key]
                        continue
                    try:
                        raw = bytes.fromhex(text) if isinstance(text, str) else b""
                    except ValueError:
                        raw = b""
                    if len(raw) != size:
                        del log[key]
                        bad.setdefault((r, s, i), f"{snake} {str(text)[:80]!r} is not {2 * size} hex digits")
                    else:
                        log[key] = base64.b64encode(raw).decode()
    return bad


def _list(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return value
    return []


def stamp_id(body: bytes, idempotency_key: str | None) -> str:
    """The producer id of a request's records that carry no stamp of their own."""
    material = b"key:" + idempotency_key.encode() if idempotency_key else body
    return f"{STAMP_PREFIX}otlp-{hashlib.sha256(material).hexdigest()[:32]}"


def count_records(request: ExportLogsServiceRequest) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def decode(request: ExportLogsServiceRequest, defaults: Defaults, producer_id: str,
           bad_ids: dict[tuple[int, int, int], str] | None = None) -> Decoded:
    """Every log record of ``request`` as our record, or counted as rejected with its reason."""
    out = Decoded()
    position = 0
    for r, resource_logs in enumerate(request.resource_logs):
        resource = attributes(resource_logs.resource.attributes)
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            scope = scope_logs.scope
            for i, log in enumerate(scope_logs.log_records):
                position += 1
                where = f"resource_logs[{r}].scope_logs[{s}].log_records[{i}]"
                problem = bad_ids.get((r, s, i)) if bad_ids else None
                if problem:
                    out.reject(where, problem)
                    continue
                try:
                    raw = to_raw(log, resource, scope.name, scope.version, defaults)
                    record = normalize(raw, max_message_bytes=defaults.max_message_bytes)
                    _check_size(record, defaults.max_record_bytes)
                except ValidationError as exc:
                    out.reject(where, "; ".join(f"{e.field}: {e.message}" for e in exc.errors))
                    continue
                except Exception as exc:  # noqa: BLE001 - a value no rule foresaw: that record (a counted reject) fails
                    out.reject(where, f"could not be mapped: {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                if record["producer_id"] is None:
                    record["producer_id"], record["seq"] = producer_id, position
                out.records.append(record)
    return out


def _check_size(record: Record, limit: int) -> None:
    size = sum(len(v) for v in (record["message"], record["extra"], record["error_details"]) if v)
    if size * 4 > limit and len(dumps(record).encode()) > limit:
        raise ValidationError([FieldError(
            "record", f"{len(dumps(record).encode())} bytes is over the {limit}-byte record limit "
            "(core.logging.max_record_bytes)")])


def to_raw(log: LogRecord, resource: dict[str, Any], scope_name: str, scope_version: str,
           defaults: Defaults) -> dict[str, Any]:
    """The fields of our record (before ``normalize`` judges them) from one OTLP log record."""
    attrs = attributes(log.attributes)
    errors: list[FieldError] = []
    raw: dict[str, Any] = {
        "timestamp": _timestamp(log, errors, attrs),
        "level": _level(log),
        "message": _message(log),
        "module": scope_name or defaults.module,
        "function": _first(attrs, names.FUNCTION) or defaults.function,
        "file": _first(attrs, names.FILE),
        "line": _first(attrs, names.LINE),
        "subsystem": resource.get(names.SERVICE_NAME) or defaults.subsystem,
        "origin": attrs.pop(names.ORIGIN, None) or defaults.origin,
        "user_id": attrs.pop(names.USER_ID, None),
        "session_id": attrs.pop(names.SESSION_ID, None),
    }
    environment = attrs.pop(names.ENVIRONMENT, None) or _first(dict(resource), names.DEPLOYMENT_ENVIRONMENT)
    raw["environment"] = environment
    raw["topic"] = attrs.pop(names.TOPIC, None) or log.event_name or defaults.topic
    raw["severity"] = attrs.pop(names.SEVERITY, None)
    if raw["severity"] is None and log.severity_text and _parsed(log.severity_text) != raw["level"]:
        raw["severity"] = log.severity_text
    raw["trace_id"] = _trace_id(log, attrs, errors)
    _stamp(raw, attrs)
    raw["error_details"] = _error_details(attrs)
    extra = attrs
    if len(log.span_id) == 8:
        extra[names.SPAN_ID] = log.span_id.hex()
    elif log.span_id:
        errors.append(FieldError("span_id", f"must be 8 bytes, got {len(log.span_id)}"))
    if log.flags & 0xFF:
        extra[names.TRACE_FLAGS] = log.flags & 0xFF
    if log.event_name and log.event_name != raw["topic"]:
        extra[names.EVENT_NAME] = log.event_name
    other = {k: v for k, v in resource.items() if k != names.SERVICE_NAME}
    if other:
        extra[names.RESOURCE] = other
    if scope_version:
        extra[names.SCOPE_VERSION] = scope_version
    raw["extra"] = extra or None
    if errors:
        raise ValidationError(errors)
    for name in _TEXT_FROM_ATTRIBUTES:  # user.id = 42 is an id all the same
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raw[name] = str(value)
    if isinstance(raw["line"], str) and raw["line"].isdigit():
        raw["line"] = int(raw["line"])
    return raw


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    found = None
    for key in keys:
        value = attrs.pop(key, None)
        if found is None and value is not None:
            found = value
    return found


def _timestamp(log: LogRecord, errors: list[FieldError], extra: dict[str, Any]) -> str | None:
    """The event time, else the observed time, else the time of receipt. A time before 2000 or more
    than a day ahead (a device with no clock, a unit mix-up) is not believed: the observed time is
    used if it is believable (the given one kept in ``extra``), else the record is rejected."""
    now = time.time_ns()
    lowest, highest = YEAR_2000_NS, now + FUTURE_GRACE_NS
    for name in ("time_unix_nano", "observed_time_unix_nano"):
        nanos = getattr(log, name)
        if not nanos:
            continue
        if lowest <= nanos <= highest:
            if name != "time_unix_nano" and log.time_unix_nano:
                extra["otel.time_unix_nano"] = log.time_unix_nano
            return _text(nanos)
    given = log.time_unix_nano or log.observed_time_unix_nano
    if not given:
        return _text(now)
    errors.append(FieldError("time_unix_nano" if log.time_unix_nano else "observed_time_unix_nano",
                             f"{given} is not a believable time (before 2000 or more than a day ahead)"))
    return None


def _text(nanos: int) -> str:
    """Stored text of a time in range (the seconds' part formatted once per second seen)."""
    global _last_second
    seconds, micros = divmod(nanos // 1000, 1_000_000)
    cached = _last_second  # one read: threads may swap it meanwhile
    if cached[0] != seconds:
        cached = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{micros:06d}Z"


_last_second: tuple[int, str] = (-1, "")


def _parsed(text: str) -> str | None:
    try:
        return parse_level(text.strip())
    except ValidationError:
        return None


def _level(log: LogRecord) -> str:
    level = names.level_of_number(log.severity_number)
    if level is None and log.severity_text:
        text = log.severity_text.strip().upper()
        level = "DEBUG" if text == "TRACE" else _parsed(text)
    return level or "INFO"


def _message(log: LogRecord) -> str:
    if not log.HasField("body"):
        return ""
    if log.body.WhichOneof("value") == "string_value":
        return log.body.string_value
    value = plain(log.body)
    return "" if value is None else value if isinstance(value, str) else dumps(value)


def _trace_id(log: LogRecord, attrs: dict[str, Any], errors: list[FieldError]) -> str | None:
    own = attrs.pop(names.TRACE_ID, None)
    if log.trace_id:
        if len(log.trace_id) != 16:
            errors.append(FieldError("trace_id", f"must be 16 bytes, got {len(log.trace_id)}"))
            return None
        if any(log.trace_id):
            return log.trace_id.hex()
    return own if isinstance(own, str) else None


def _stamp(raw: dict[str, Any], attrs: dict[str, Any]) -> None:
    """The sender's own delivery stamp, if it gives a usable one (else the request's is used)."""
    pid, seq = attrs.pop(names.PRODUCER_ID, None), attrs.pop(names.SEQ, None)
    if isinstance(pid, str) and PRODUCER_ID.match(pid) and isinstance(seq, int) and 1 <= seq <= 2**63 - 1:
        raw["producer_id"] = pid if pid.startswith(STAMP_PREFIX) else f"{STAMP_PREFIX}{pid}"
        raw["seq"] = seq


def _error_details(attrs: dict[str, Any]) -> dict[str, Any] | None:
    details: dict[str, Any] = {}
    for key, name in ((names.EXCEPTION_TYPE, "type"), (names.EXCEPTION_MESSAGE, "message"),
                      (names.EXCEPTION_STACK, "stack")):
        value = attrs.pop(key, None)
        if value is not None:
            details[name] = value
    more = attrs.pop(names.ERROR_DETAILS, None)
    if isinstance(more, dict):
        details.update(more)
    return details or None

