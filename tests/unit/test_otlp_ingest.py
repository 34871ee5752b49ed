"""POST /v1/logs against a real uvicorn bridge (memory sink): mapping, answers, hostile input, retries."""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from aico.otlp.values import fill_pair
from aico.schema.record import loads

from bridge_support import TOKEN, MemorySink, served

pytestmark = pytest.mark.clock  # stamps records relative to now

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PB = {**AUTH, "Content-Type": "application/x-protobuf"}
TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client, MemorySink]]:
    with served(tmp_path_factory.mktemp("otlp"), max_batch_records=50) as (url, sink), \
            httpx.Client(base_url=url, timeout=30) as client:
        yield url, client, sink


@pytest.fixture
def client(bridge: tuple[str, httpx.Client, MemorySink]) -> httpx.Client:
    return bridge[1]


@pytest.fixture
def sink(bridge: tuple[str, httpx.Client, MemorySink]) -> Iterator[MemorySink]:
    bridge[2].records.clear()
    yield bridge[2]
    bridge[2].full = False


def now_ns(seconds_ago: float = 0) -> int:
    return time.time_ns() - int(seconds_ago * 1e9)


def request(*logs: dict[str, Any], service: str = "app", scope: str = "app.mod") -> ExportLogsServiceRequest:
    out = ExportLogsServiceRequest()
    rl = out.resource_logs.add()
    fill_pair(rl.resource.attributes.add(), "service.name", service)
    fill_pair(rl.resource.attributes.add(), "host.name", "box")
    sl = rl.scope_logs.add()
    sl.scope.name = scope
    for spec in logs:
        log: LogRecord = sl.log_records.add()
        attrs = spec.pop("attributes", {})
        body = spec.pop("body", None)
        for key, value in spec.items():
            setattr(log, key, value)
        if body is not None:
            from aico.otlp.values import fill
            fill(log.body, body)
        for key, value in attrs.items():
            fill_pair(log.attributes.add(), key, value)
    return out


def post(client: httpx.Client, req: ExportLogsServiceRequest, **headers: str) -> ExportLogsServiceResponse:
    answer = client.post("/v1/logs", content=req.SerializeToString(), headers={**PB, **headers})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-protobuf"
    return ExportLogsServiceResponse.FromString(answer.content)


def test_every_field_of_the_logs_data_model_is_mapped(client: httpx.Client, sink: MemorySink) -> None:
    """Severity, times, body, ids, code.*, service.name, scope, exception.* and the rest land in their fields."""
    t = now_ns(5)
    post(client, request({
        "time_unix_nano": t, "observed_time_unix_nano": t + 1000, "severity_number": 1, "severity_text": "TRACE",
        "body": "hello", "trace_id": bytes.fromhex(TRACE), "span_id": bytes.fromhex(SPAN), "flags": 1,
        "attributes": {"code.function.name": "handle", "code.file.path": "/srv/app.py", "code.line.number": 42,
                       "exception.type": "ValueError", "exception.message": "bad", "exception.stacktrace": "Tb...",
                       "user.id": "u-1", "session.id": "s-1", "http.route": "/x", "n": 3, "ok": True}},
        {"observed_time_unix_nano": t, "severity_number": 21, "body": {"k": [1, "a"]},
         "attributes": {"code.function": "old", "code.filepath": "o.py", "code.lineno": "7", "user.id": 42}},
    ))
    first, second = sink.records
    assert (first["level"], first["severity"], first["message"]) == ("DEBUG", "TRACE", "hello")
    assert (first["module"], first["subsystem"], first["function"], first["file"], first["line"]) == (
        "app.mod", "app", "handle", "/srv/app.py", 42)
    assert first["trace_id"] == TRACE and (first["user_id"], first["session_id"]) == ("u-1", "s-1")
    assert loads(first["error_details"]) == {"type": "ValueError", "message": "bad", "stack": "Tb..."}
    assert loads(first["extra"]) == {"http.route": "/x", "n": 3, "ok": True, "span_id": SPAN, "trace_flags": 1,
                                     "otel.resource": {"host.name": "box"}}
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + f".{t // 1000 % 10**6:06d}Z"
    assert first["timestamp"] == expected
    assert (second["level"], second["message"], second["function"], second["file"], second["line"]) == (
        "CRITICAL", '{"k":[1,"a"]}', "old", "o.py", 7)
    assert second["timestamp"] == expected  # observed time when the event time is missing
    assert second["user_id"] == "42"  # a number where an id goes is taken as its text


@pytest.mark.parametrize(("number", "level"), [(4, "DEBUG"), (5, "DEBUG"), (9, "INFO"), (13, "WARNING"),
                                                (17, "ERROR"), (24, "CRITICAL"), (0, "INFO")])
def test_severity_numbers_map_onto_our_levels(client: httpx.Client, sink: MemorySink, number: int,
                                               level: str) -> None:
    """Each OTLP severity range maps to its level; unspecified with no text is INFO."""
    post(client, request({"time_unix_nano": now_ns(), "severity_number": number, "body": "x"}))
    assert sink.records[0]["level"] == level


def test_otlp_json_with_hex_ids_and_gzip(client: httpx.Client, sink: MemorySink) -> None:
    """OTLP JSON (hex ids, string int64s, camelCase) gzipped is taken and answered in JSON."""
    body = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeLogs": [{"scope": {"name": "web.ui"}, "logRecords": [
                {"timeUnixNano": str(now_ns()), "severityNumber": 13, "severityText": "WARN", "traceId": TRACE,
                 "spanId": SPAN, "body": {"stringValue": "careful"},
                 "attributes": [{"key": "k", "value": {"intValue": "5"}}]}]}]}]}
    answer = client.post("/v1/logs", content=gzip.compress(json.dumps(body).encode()),
                         headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.json() == {}
    [row] = sink.records
    assert (row["level"], row["severity"], row["trace_id"], row["subsystem"], row["module"]) == (
        "WARNING", None, TRACE, "web", "web.ui")
    assert loads(row["extra"])["k"] == 5 and loads(row["extra"])["span_id"] == SPAN


def test_bad_records_are_counted_and_the_good_ones_kept(client: httpx.Client, sink: MemorySink) -> None:
    """Wrong-length ids, an unbelievable time and a huge attribute are rejected by count; the rest stored."""
    answer = post(client, request(
        {"time_unix_nano": now_ns(), "body": "good 1"},
        {"time_unix_nano": now_ns(), "body": "bad id", "trace_id": b"\x01\x02"},
        {"time_unix_nano": 2**64 - 1, "body": "far future"},
        {"time_unix_nano": now_ns(), "body": "huge", "attributes": {"blob": "x" * 300_000}},
        {"time_unix_nano": now_ns(), "body": "bad span", "span_id": b"\x01" * 9},
        {"time_unix_nano": now_ns(), "body": "good 2"},
        {"time_unix_nano": 1, "observed_time_unix_nano": now_ns(), "body": "no clock"},
    ))
    assert [r["message"] for r in sink.records] == ["good 1", "good 2", "no clock"]
    assert loads(sink.records[2]["extra"])["otel.time_unix_nano"] == 1
    assert answer.partial_success.rejected_log_records == 4
    message = answer.partial_success.error_message
    for part in ("log_records[1]: trace_id: must be 16 bytes", "log_records[2]: time_unix_nano",
                 "log_records[3]: record", "log_records[4]: span_id"):
        assert part in message


def test_invalid_hex_ids_in_json_reject_only_their_record(client: httpx.Client, sink: MemorySink) -> None:
    """A traceId that is not hex, or a value of the wrong type, rejects its record, named, and keeps the others."""
    logs = [{"timeUnixNano": str(now_ns()), "body": {"stringValue": f"r{i}"}, "traceId": tid}
            for i, tid in enumerate([TRACE, "zz" * 16, "abc", TRACE, TRACE])]
    logs[3]["timeUnixNano"] = "-5"  # not a uint64
    logs[4]["severityNumber"] = {"not": "an enum"}
    logs.append({"timeUnixNano": str(now_ns()), "body": {"stringValue": "r5"}})
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": logs}]}]}
    answer = client.post("/v1/logs", json=body, headers=AUTH)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "4" and "not 32 hex digits" in partial["errorMessage"]
    assert "log_records[3]: unreadable" in partial["errorMessage"]
    assert [r["message"] for r in sink.records] == ["r0", "r5"]


@pytest.mark.parametrize(("content", "ctype", "status"), [
    (b"\x0a\xff\xff", "application/x-protobuf", 400),          # truncated protobuf
    (b"{not json", "application/json", 400),
    (b'{"resourceLogs": 5}', "application/json", 400),
    (b"[]", "application/json", 400),
    (b"hello", "text/plain", 415),
    (b"hello", "", 415),
])
def test_unreadable_requests_get_a_clear_4xx(client: httpx.Client, sink: MemorySink, content: bytes, ctype: str,
                                             status: int) -> None:
    """Bodies that are not OTLP get a 4xx with a google.rpc.Status saying why, never a 500."""
    headers = {**AUTH, "Content-Type": ctype} if ctype else AUTH
    answer = client.post("/v1/logs", content=content, headers=headers)
    assert answer.status_code == status
    if ctype == "application/json":
        assert answer.json()["code"] == 3 and answer.json()["message"]
    assert not sink.records


def test_limits_auth_and_backpressure(client: httpx.Client, sink: MemorySink) -> None:
    """Too many records 413, no token 401, a full producer 429 with Retry-After (nothing taken)."""
    many = request(*({"time_unix_nano": now_ns(), "body": str(i)} for i in range(51)))
    assert client.post("/v1/logs", content=many.SerializeToString(), headers=PB).status_code == 413
    one = request({"time_unix_nano": now_ns(), "body": "x"}).SerializeToString()
    assert client.post("/v1/logs", content=one, headers={"Content-Type": "application/x-protobuf"}).status_code == 401
    sink.full = True
    busy = client.post("/v1/logs", content=one, headers=PB)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert not sink.records


def test_a_retried_request_gets_the_same_stamps(client: httpx.Client, sink: MemorySink) -> None:
    """The same body twice gives the same (producer_id, seq) per record; another body or key, others."""
    req = request({"time_unix_nano": now_ns(), "body": "a"}, {"time_unix_nano": now_ns(), "body": "b"})
    post(client, req)
    post(client, req)
    stamps = [(r["producer_id"], r["seq"]) for r in sink.records]
    assert stamps[:2] == stamps[2:] and [s for _, s in stamps[:2]] == [1, 2]
    assert stamps[0][0].startswith("frontend:otlp-")
    post(client, req, **{"Idempotency-Key": "k-1"})
    assert sink.records[-1]["producer_id"] not in {p for p, _ in stamps}


@pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")  # the issue asks for this handler
def test_the_official_sdk_exporter_is_understood(bridge: tuple[str, httpx.Client, MemorySink],
                                                 sink: MemorySink) -> None:
    """opentelemetry-sdk's LoggingHandler through its OTLP/HTTP exporter: level, ids, attributes, exception."""
    from opentelemetry._logs import SeverityNumber  # noqa: F401  (the SDK is installed)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = LoggerProvider(resource=Resource.create({"service.name": "sdk-app"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{bridge[0]}/v1/logs", headers={"Authorization": f"Bearer {TOKEN}"})))
    log = logging.getLogger("sdk.unit")
    log.propagate = False
    log.addHandler(LoggingHandler(logger_provider=provider))
    log.setLevel(logging.DEBUG)
    with TracerProvider().get_tracer("t").start_as_current_span("work") as span:
        log.warning("careful %s", "now", extra={"order": 7})
        try:
            raise KeyError("gone")
        except KeyError:
            log.exception("failed")
    provider.shutdown()
    warn, err = sink.records
    ctx = span.get_span_context()
    assert (warn["level"], warn["message"], warn["module"], warn["subsystem"]) == (
        "WARNING", "careful now", "sdk.unit", "sdk-app")
    assert warn["trace_id"] == f"{ctx.trace_id:032x}" and loads(warn["extra"])["span_id"] == f"{ctx.span_id:016x}"
    assert loads(warn["extra"])["order"] == 7 and warn["function"] == "test_the_official_sdk_exporter_is_understood"
    assert err["level"] == "ERROR" and loads(err["error_details"])["type"] == "KeyError"
    assert "raise KeyError" in loads(err["error_details"])["stack"]
