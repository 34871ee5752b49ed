"""OpenTelemetry end to end: official clients into a real backend, export to an OTLP receiver, a round trip."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aico.config import load_settings
from aico.schema.record import loads
from aico.store import LogStore

from support import Backend, home_env, run_aico, wait_until

pytestmark = pytest.mark.clock
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
    """The OTel SDK's exporter, curl with OTLP JSON, a structlog app and a loguru app: all fields stored."""
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
        assert app(env, "structlog") == {"flushed": "True"}
        assert app(env, "loguru") == {"flushed": "True"}
        wait_until(lambda: len(rows(env)) == 7, timeout=60, message="7 records stored")
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
