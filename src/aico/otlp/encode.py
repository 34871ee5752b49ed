"""Stored records to an ``ExportLogsServiceRequest``, in their order.

Consecutive records of one subsystem share a ``ResourceLogs`` (``service.name``), consecutive
records of one module a ``ScopeLogs`` (scope name): read in order, the request holds the
records in the order given. Fields without an OpenTelemetry home travel as ``aico.*``
attributes, so our bridge at the other end rebuilds every field (README, "OpenTelemetry").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ScopeLogs

from aico.otlp import names
from aico.otlp.values import fill_pair
from aico.schema.record import loads

HEX32 = re.compile(r"[0-9a-f]{32}\Z")
HEX16 = re.compile(r"[0-9a-f]{16}\Z")


def unix_nanos(timestamp: str) -> int:
    when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def _json(value: Any) -> dict[str, Any]:
    if not value:
        return {}
    parsed = loads(value) if isinstance(value, str | bytes) else value
    return dict(parsed) if isinstance(parsed, Mapping) else {"value": parsed}


def encode(records: Iterable[Mapping[str, Any]]) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    subsystem: object = object()
    module: object = object()
    scope: ScopeLogs | None = None
    resource = None
    for record in records:
        if record["subsystem"] != subsystem or resource is None:
            subsystem, module = record["subsystem"], object()
            resource = request.resource_logs.add()
            fill_pair(resource.resource.attributes.add(), names.SERVICE_NAME, subsystem)
        if record["module"] != module or scope is None:
            module = record["module"]
            scope = resource.scope_logs.add()
            scope.scope.name = str(module)
        fill_record(scope.log_records.add(), record)
    return request


def fill_record(log: LogRecord, record: Mapping[str, Any]) -> None:
    nanos = unix_nanos(record["timestamp"])
    log.time_unix_nano = log.observed_time_unix_nano = nanos
    log.severity_number = names.LEVEL_NUMBERS.get(record["level"], 0)  # type: ignore[assignment]
    log.severity_text = record["level"]
    log.body.string_value = record["message"] or ""
    extra = _json(record.get("extra"))
    attrs: dict[str, Any] = {}
    span = extra.pop(names.SPAN_ID, None)
    if isinstance(span, str) and HEX16.match(span):
        log.span_id = bytes.fromhex(span)
    elif span is not None:
        extra[names.SPAN_ID] = span
    flags = extra.pop(names.TRACE_FLAGS, None)
    if isinstance(flags, int) and not isinstance(flags, bool) and 0 <= flags <= 0xFF:
        log.flags = flags
    elif flags is not None:
        extra[names.TRACE_FLAGS] = flags
    event = extra.pop(names.EVENT_NAME, None)
    if isinstance(event, str):
        log.event_name = event
    elif event is not None:
        extra[names.EVENT_NAME] = event
    trace = record.get("trace_id")
    if trace and HEX32.match(trace) and trace != "0" * 32:
        log.trace_id = bytes.fromhex(trace)
    elif trace:
        attrs[names.TRACE_ID] = trace
    attrs[names.FUNCTION[0]] = record["function"]
    if record.get("file") is not None:
        attrs[names.FILE[0]] = record["file"]
    if record.get("line") is not None:
        attrs[names.LINE[0]] = record["line"]
    attrs[names.TOPIC] = record["topic"]
    for column, key in (("origin", names.ORIGIN), ("environment", names.ENVIRONMENT), ("severity", names.SEVERITY),
                        ("user_id", names.USER_ID), ("session_id", names.SESSION_ID),
                        ("producer_id", names.PRODUCER_ID), ("seq", names.SEQ)):
        if record.get(column) is not None:
            attrs[key] = record[column]
    details = _json(record.get("error_details"))
    for name, key in (("type", names.EXCEPTION_TYPE), ("message", names.EXCEPTION_MESSAGE),
                      ("stack", names.EXCEPTION_STACK)):
        if isinstance(details.get(name), str):
            attrs[key] = details.pop(name)
    if details:
        attrs[names.ERROR_DETAILS] = details
    for key, value in extra.items():
        attrs.setdefault(key, value)
    for key, value in attrs.items():
        fill_pair(log.attributes.add(), key, value)
