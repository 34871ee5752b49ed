"""OpenTelemetry in and out: OTLP/HTTP protobuf ingest beside the native batch route, and the export rate.

Ingest: one backend per case in a fresh AICO_HOME; ``--connections`` asyncio clients POST
batches of ``--batch`` records as fast as answers come (backing off on 429), to
``/api/v1/logs/batch`` (JSON, the baseline) and to ``/v1/logs`` (``ExportLogsServiceRequest``
protobuf, each request with its own ``Idempotency-Key`` so that no record is a retry).
Figures: records/s until the last one is stored, and the backend's CPU per record (bridge,
producer, broker, collector and store together).

Export: the ``log_otlp_export`` plugin, in this process, forwards the OTLP case's store to a
receiver in this process (a ThreadingHTTPServer decoding each request with opentelemetry-proto):
records/s from the first request to the last acknowledgement.

    python bench/otlp.py --records 100000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from aico.otlp.values import fill_pair
from benchenv import BIN, StoreProbe, case_env, free_ports, running_backend
from bridge import bodies, cpu_seconds

PLUGINS = "message_bus,log_consumer,log_bridge"


def otlp_bodies(batch: int, kinds: int = 16) -> list[bytes]:
    """Protobuf requests holding the same records as ``bridge.bodies`` (levels, code.*, ids, attributes)."""
    out = []
    now = time.time_ns()
    for k in range(kinds):
        request = ExportLogsServiceRequest()
        resource = request.resource_logs.add()
        fill_pair(resource.resource.attributes.add(), "service.name", "frontend")
        scope = resource.scope_logs.add()
        scope.scope.name = f"web.bench{k % 4}"
        for i in range(batch):
            log = scope.log_records.add()
            log.time_unix_nano = now
            log.severity_number = 9  # type: ignore[assignment]
            log.body.string_value = f"rendered view {k}-{i} in {i % 97} ms"
            log.trace_id = (k * 100_000 + i // 10).to_bytes(16, "big")
            for key, value in (("code.function.name", "render"), ("code.file.path", "app.js"),
                               ("code.line.number", i), ("aico.topic", "ui/render"), ("session.id", "session-bench"),
                               ("i", i), ("route", "/chat")):
                fill_pair(log.attributes.add(), key, value)
        out.append(request.SerializeToString())
    return out


async def load(url: str, token: str, path: str, content_type: str, payloads: list[bytes], requests: int,
               connections: int, keyed: bool) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    todo = iter(range(requests))
    throttled = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal throttled
        for n in todo:
            extra = {"Idempotency-Key": f"bench-{n}"} if keyed else {}
            while True:
                answer = await client.post(path, content=payloads[n % len(payloads)], headers={**headers, **extra})
                if answer.status_code == 429:
                    throttled += 1
                    await asyncio.sleep(0.01)
                    continue
                if answer.status_code >= 300:
                    raise SystemExit(f"bridge answered {answer.status_code}: {answer.text[:200]}")
                break

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    return throttled


def ingest_case(name: str, home: Path, records: int, batch: int, connections: int) -> dict[str, Any]:
    env = case_env(home)
    with running_backend(env, PLUGINS) as backend:
        token = subprocess.run([str(BIN / "aico"), "bridge", "token"], env=env, check=True, capture_output=True,
                               text=True).stdout.strip()
        url = f"http://127.0.0.1:{env['AICO_CORE__BRIDGE__PORT']}"
        if name == "otlp":
            payloads, path, kind = otlp_bodies(batch), "/v1/logs", "application/x-protobuf"
        else:
            payloads, path, kind = bodies(batch), "/api/v1/logs/batch", "application/json"
        cpu_before = cpu_seconds(backend.pid)
        started = time.perf_counter()
        throttled = asyncio.run(load(url, token, path, kind, payloads, records // batch, connections, name == "otlp"))
        probe = StoreProbe(env)
        stored, last_change = probe.wait_for(records // batch * batch)
        probe.close()
        cpu = cpu_seconds(backend.pid) - cpu_before
    seconds = last_change - started
    return {"case": name, "records": records // batch * batch, "stored": stored,
            "stored_per_s": round(stored / seconds, 1) if seconds > 0 else 0.0, "throttled_429": throttled,
            "backend_cpu_us_per_record": round(cpu / max(stored, 1) * 1e6, 1), "env": env}


class Receiver:
    def __init__(self) -> None:
        self.records = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportLogsServiceRequest.FromString(body)
                n = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
                with receiver.lock:
                    receiver.records += n
                answer = ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_ports(1)[0]
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def export_case(env: dict[str, str], total: int, batch: int) -> dict[str, Any]:
    from aico.config import load_settings
    from aico.otlp.plugin import OtlpExportPlugin

    receiver = Receiver()
    settings = load_settings(env=env, overrides={"core": {"otlp_export": {
        "endpoint": f"http://127.0.0.1:{receiver.port}/v1/logs", "batch_size": batch, "interval_s": 0.05}}})
    plugin = OtlpExportPlugin(settings)
    started = time.perf_counter()
    plugin.start()
    while receiver.records < total and time.perf_counter() - started < 600:
        time.sleep(0.05)  # polling the receiver while the exporter runs
    seconds = time.perf_counter() - started
    plugin.stop()
    receiver.server.shutdown()
    return {"case": "export", "batch": batch, "records": receiver.records,
            "exported_per_s": round(receiver.records / seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="aico-bench-otlp-") as tmp:
        native = ingest_case("native", Path(tmp) / "native", args.records, args.batch, args.connections)
        otlp = ingest_case("otlp", Path(tmp) / "otlp", args.records, args.batch, args.connections)
        export = export_case(otlp.pop("env"), otlp["stored"], args.batch)
        native.pop("env")
    result = {"native": native, "otlp": otlp, "export": export,
              "otlp_over_native": round(otlp["stored_per_s"] / max(native["stored_per_s"], 1), 2),
              "cpu_ratio": round(otlp["backend_cpu_us_per_record"] / max(native["backend_cpu_us_per_record"], 1), 2)}
    if args.json:
        print(json.dumps(result))
        return
    for case in (native, otlp):
        print(f"{case['case']:>7} ingest: {case['stored']} of {case['records']} stored, "
              f"{case['stored_per_s']:>9,.0f} records/s, backend CPU {case['backend_cpu_us_per_record']} us/record, "
              f"429s {case['throttled_429']}")
    print(f"otlp/native ingest rate: {result['otlp_over_native']}; CPU per record: {result['cpu_ratio']}")
    print(f" export: {export['records']} records to an OTLP receiver at {export['exported_per_s']:>9,.0f} records/s "
          f"(batches of {export['batch']})")


if __name__ == "__main__":
    main()
