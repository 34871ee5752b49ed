"""OpenTelemetry end to end: official clients into a real backend, export to an OTLP receiver, a round trip."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from aico.config import load_settings
from aico.otlp.values import attributes
from aico.schema.record import COLUMNS, loads
from aico.store import LogStore

from support import Backend, home_env, run_aico, stamp, wait_until

APPS = str(Path(__file__).with_name("otlp_apps.py"))
CORE = '["message_bus", "log_consumer", "log_bridge"]'
EXPORTING = '["message_bus", "log_consumer", "log_bridge", "log_otlp_export"]'


def rows(env: dict[str, str], where: str = "1=1") -> list[dict[str, Any]]:
    with LogStore.open(load_settings(env=env)) as store:
        return list(store.iter_rows(f"SELECT * FROM logs WHERE {where} ORDER BY id"))


def app(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, APPS, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_official_clients_reach_the_store(tmp_path: Path) -> None:
    """The OTel SDK's exporter, curl with OTLP JSON (sent twice, stored once), structlog and loguru apps: all stored."""
    env = home_env(tmp_path / "home", AICO_CORE__BACKEND__PLUGINS=CORE)
    with Backend(env):
        token = run_aico(env, "bridge", "token").stdout.strip()
        url = run_aico(env, "bridge", "url").stdout.strip()
        ids = app(env, "sdk", url, token)
        body = {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "curl-app"}}]}, "scopeLogs": [{"scope": {
                "name": "curl.mod"}, "logRecords": [{"timeUnixNano": str(time.time_ns()), "severityNumber": 17,
                "body": {"stringValue": "from curl"}, "traceId": "5b8efff798038103d269b633813fc60c",
                "attributes": [{"key": "code.function.name", "value": {"stringValue": "main"}}]}]}]}]}
        curl = subprocess.run(["curl", "-s", "-X", "POST", f"{url}/v1/logs", "-H", f"Authorization: Bearer {token}",
                               "-H", "Content-Type: application/json", "-d", json.dumps(body)],
                              capture_output=True, text=True, timeout=60)
        assert curl.returncode == 0 and json.loads(curl.stdout) == {}, curl.stdout
        again = httpx.post(f"{url}/v1/logs", content=json.dumps(body), timeout=30,  # the same bytes as curl's
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert again.status_code == 200  # a client's retry of the same request: stored once
        assert app(env, "structlog") == {"flushed": "True"}
        assert app(env, "loguru") == {"flushed": "True"}
        wait_until(lambda: len(rows(env)) == 7, timeout=60, message="7 records stored")
        wait_until(lambda: json.loads(run_aico(env, "gateway", "status", "--json").stdout)["plugins"][
            "log_consumer"]["duplicates"] >= 1, timeout=30, message="the retried request seen as a duplicate")
        assert len(rows(env)) == 7
        rows_all = rows(env)
        stored = {r["message"]: r for r in rows_all}

    warn, err = stored["disk almost full"], stored["write failed"]
    assert (warn["level"], warn["subsystem"], warn["module"], warn["trace_id"]) == (
        "WARNING", "otel-app", "otel.app", ids["trace_id"])
    assert loads(warn["extra"])["span_id"] == ids["span_id"] and loads(warn["extra"])["disk.free_mb"] == 120
    assert warn["function"] == "sdk" and warn["file"].endswith("otlp_apps.py")
    assert err["level"] == "ERROR" and loads(err["error_details"])["type"] == "OSError"
    assert "no space left" in loads(err["error_details"])["stack"]
    curled = stored["from curl"]
    assert (curled["level"], curled["subsystem"], curled["module"], curled["function"], curled["trace_id"]) == (
        "ERROR", "curl-app", "curl.mod", "main", "5b8efff798038103d269b633813fc60c")
    every = rows_all
    for trace, message, extra in (("trace-s", "cart abandoned", {"cart": "c-1", "items": 3}),
                                  ("trace-l", "cart abandoned 3", {"cart": "c-2"})):
        mine = [r for r in every if r["trace_id"] == trace]
        assert [(r["level"], r["message"]) for r in mine] == [("WARNING", message), ("ERROR", "checkout failed")]
        assert loads(mine[0]["extra"]) == extra and mine[0]["file"].endswith("otlp_apps.py")
        assert loads(mine[1]["error_details"])["type"] == "ValueError"


class Receiver:
    """A small OTLP/HTTP logs receiver (opentelemetry-proto decoding): each record's delivery stamp, in
    arrival order. ``busy`` answers 503 with Retry-After; ``stop()`` is an outage (connection refused)."""

    def __init__(self, port: int = 0, delay_s: float = 0.0) -> None:
        self.port = port  # 0: the first start binds a free one; a start after stop() binds it again
        self.delay_s = delay_s
        self.busy = False
        self.busy_answers = 0
        self.stamps: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.busy:
                    receiver.busy_answers += 1
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportLogsServiceRequest.FromString(body)
                time.sleep(receiver.delay_s)  # a slow endpoint, so that a kill lands mid-export
                with receiver.lock:
                    for resource in request.resource_logs:
                        for scope in resource.scope_logs:
                            for log in scope.log_records:
                                attrs = attributes(log.attributes)
                                receiver.stamps.append((attrs["aico.producer_id"], attrs["aico.seq"]))
                answer = ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def distinct(self) -> int:
        with self.lock:
            return len(set(self.stamps))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(delay_s=0.15).start()
    made.busy = True
    yield made
    made.stop()


def export_status(env: dict[str, str]) -> dict[str, Any]:
    status = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
    return (status.get("plugins") or {}).get("log_otlp_export") or {}


def post_records(env: dict[str, str], records: list[dict[str, Any]]) -> None:
    token = run_aico(env, "bridge", "token").stdout.strip()
    url = run_aico(env, "bridge", "url").stdout.strip()
    with httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        for start in range(0, len(records), 1000):
            answer = http.post("/api/v1/logs/batch", json=records[start:start + 1000])
            assert answer.status_code == 202 and not answer.json()["rejected"], answer.text


def record(i: int, **more: Any) -> dict[str, Any]:
    return {"timestamp": stamp(600 - i / 100), "level": "INFO", "module": "app.mod", "function": "work",
            "topic": "jobs", "message": f"record {i}", "producer_id": "e2e", "seq": i, **more}


def test_export_gets_every_record_across_an_outage_and_a_sigkill(tmp_path: Path, receiver: Receiver) -> None:
    """503 + Retry-After, a receiver down, the backend SIGKILLed mid-export: every record arrives,
    duplicates at most one batch; lag and counters are in aico gateway status."""
    total, batch = 3000, 200
    env = home_env(tmp_path / "home", AICO_CORE__BACKEND__PLUGINS=EXPORTING,
                   AICO_CORE__OTLP_EXPORT__ENDPOINT=f"http://127.0.0.1:{receiver.port}/v1/logs",
                   AICO_CORE__OTLP_EXPORT__BATCH_SIZE=str(batch), AICO_CORE__OTLP_EXPORT__INTERVAL_S="0.2",
                   AICO_CORE__OTLP_EXPORT__MAX_BACKOFF_S="1")
    backend = Backend(env).start()
    try:
        post_records(env, [record(i) for i in range(1, total + 1)])
        wait_until(lambda: len(rows(env)) == total, timeout=60, message="every record stored")
        busy = wait_until(lambda: (s := export_status(env)).get("retries", 0) >= 1 and s["lag_records"] == total
                          and s, timeout=30, message="the exporter backing off on 503, all records lagging")
        assert "HTTP 503" in busy["last_error"] and receiver.busy_answers >= 1

        receiver.busy = False
        wait_until(lambda: receiver.distinct() >= 600, timeout=60, message="export under way")
        receiver.stop()  # an outage: connection refused
        down = wait_until(lambda: "cannot reach" in (export_status(env).get("last_error") or "") and
                          export_status(env), timeout=30, message="the exporter seeing the outage")
        assert 0 < down["lag_records"] < total
        receiver.start()
        wait_until(lambda: receiver.distinct() >= 1600, timeout=60, message="export resumed after the outage")
        backend.kill()  # SIGKILL, with a batch in flight to the slow receiver
        killed_at = len(receiver.stamps)
        assert killed_at < total + batch

        backend = Backend(env).start()
        wait_until(lambda: receiver.distinct() == total, timeout=120, message="every record exported")
        done = wait_until(lambda: (s := export_status(env)).get("lag_records") == 0 and s, timeout=30,
                          message="lag back to 0")
        assert done["exported"] + killed_at >= total
    finally:
        backend.stop()
    assert set(receiver.stamps) == {("frontend:e2e", i) for i in range(1, total + 1)}
    assert len(receiver.stamps) - total <= batch  # at most the batch in flight at the kill, again
    order = [seq for _, seq in dict.fromkeys(receiver.stamps)]
    assert order == sorted(order)  # in order


def test_round_trip_store_to_otlp_to_bridge_to_store_keeps_every_field(tmp_path: Path) -> None:
    """Records forwarded from one store over OTLP into another backend's bridge arrive with every column equal."""
    second = home_env(tmp_path / "second", AICO_CORE__BACKEND__PLUGINS=CORE)
    with Backend(second, name="second"):
        token = run_aico(second, "bridge", "token").stdout.strip()
        url = run_aico(second, "bridge", "url").stdout.strip()
        first = home_env(tmp_path / "first", AICO_CORE__BACKEND__PLUGINS=EXPORTING,
                         AICO_CORE__OTLP_EXPORT__ENDPOINT=f"{url}/v1/logs", AICO_CORE__OTLP_EXPORT__INTERVAL_S="0.2",
                         AICO_CORE__OTLP_EXPORT__HEADERS=json.dumps({"Authorization": f"Bearer {token}"}))
        with Backend(first, name="first"):
            full = {"file": "app.py", "line": 12, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "session_id": "s-1", "user_id": "u-1", "severity": "notice", "origin": "mobile",
                    "environment": "prod", "subsystem": "shop", "extra": {"span_id": "00f067aa0ba902b7",
                    "cart": {"items": [1, 2.5, "x", None, True]}, "üñí": "çødé"},
                    "error_details": {"type": "ValueError", "message": "bad", "stack": "Traceback...", "code": 7}}
            post_records(first, [record(1, **full), record(2, trace_id="not-hex", level="CRITICAL"),
                                 record(3, message="", module="other.mod", level="DEBUG")])
            wait_until(lambda: len(rows(second)) == 3, timeout=60, message="3 records in the second store")
            originals = rows(first)
    copies = rows(second)
    for original, copy in zip(originals, copies, strict=True):
        for column in COLUMNS:
            if column in ("extra", "error_details"):
                assert loads(copy[column] or "null") == loads(original[column] or "null"), column
            else:
                assert copy[column] == original[column], column
