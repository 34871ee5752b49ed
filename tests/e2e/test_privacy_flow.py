"""Privacy end to end: secrets masked at ingest (library and bridge), every export scrubbed, `ingest: off`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from aico.config import load_settings
from aico.store import LogStore

from support import Backend, home_env, run_aico, stamp, wait_until

pytestmark = pytest.mark.e2e

CARD = "4111 1111 1111 1111"
AWS = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "Tr0ub4dor-xyz"
COOKIE = "9f8e7d6c5b4a39281706f5e4"
EMAIL = "kate.miller@example.org"
PHONE = "+44 20 7946 0958"
SECRETS = (CARD, AWS, PASSWORD, COOKIE)
PII = (EMAIL, PHONE)

APP = f"""
import logging, sys, aico.logging
aico.logging.install(name="privacy-app", subsystem="e2e")
log = logging.getLogger("e2e.privacy")
log.warning("charge card {CARD} for {EMAIL} failed; call {PHONE}")
log.info("boto: using access key {AWS}", extra={{"db_password": "{PASSWORD}", "note": "Cookie: sid={COOKIE}"}})
log.info("clean line 42 in 35ms")
print(aico.logging.flush(60), flush=True)
"""


def stored(env: dict[str, str]) -> list[dict[str, Any]]:
    with LogStore.open(load_settings(env=env)) as store:
        return list(store.iter_rows("SELECT * FROM logs ORDER BY id"))


def _readable(path: Path) -> bytes:
    """A file's records as text: Parquet read back with pyarrow (its pages are compressed), else its bytes."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
    return path.read_bytes()


def _text(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str)


def _log_from_library(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", APP], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr


def _log_from_bridge(env: dict[str, str]) -> None:
    token = run_aico(env, "bridge", "token").stdout.strip()
    url = run_aico(env, "bridge", "url").stdout.strip()
    record = {"timestamp": stamp(5), "level": "error", "module": "web.pay", "function": "submit", "topic": "ui/pay",
              "message": f"Authorization: Bearer {COOKIE}x1 card={CARD} user {EMAIL}",
              "extra": {"apiKey": AWS, "form": {"password": PASSWORD}}}
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post("/api/v1/logs", json=record, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 202, answer.text


def _log_over_otlp(env: dict[str, str]) -> None:
    """An OTLP/HTTP JSON request to the bridge's /v1/logs, as an OpenTelemetry exporter sends it."""
    token = run_aico(env, "bridge", "token").stdout.strip()
    url = run_aico(env, "bridge", "url").stdout.strip()
    body = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "otel-app"}}]}, "scopeLogs": [{"scope": {"name": "otel.mod"},
            "logRecords": [{"timeUnixNano": str(time.time_ns()), "severityNumber": 17,
                            "body": {"stringValue": f"payment failed for card {CARD}"},
                            "attributes": [{"key": "db.password", "value": {"stringValue": PASSWORD}},
                                           {"key": "note", "value": {"stringValue": f"key {AWS}"}}]}]}]}]}
    answer = httpx.post(f"{url}/v1/logs", content=json.dumps(body), timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


def test_default_policy_masks_secrets_at_ingest_and_exports_scrub_everything(env: dict[str, str],
                                                                              tmp_path: Path) -> None:
    """Library, bridge and OTLP records are stored with secrets masked (PII kept); exports hold no private value."""
    with Backend(env):
        _log_from_library(env)
        _log_from_bridge(env)
        _log_over_otlp(env)
        wait_until(lambda: len(stored(env)) == 5, timeout=30, message="5 records stored")

        def counted() -> dict | None:  # the status is written every half second: it may trail the store
            now = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
            return now if now["plugins"]["log_consumer"]["masked"].get("card") == 3 else None

        status = wait_until(counted, timeout=15, message="the masking counted in the status")
        text_status = run_aico(env, "gateway", "status").stdout
    rows = stored(env)
    raw = _text(rows)
    for value in SECRETS:
        assert value not in raw, value
    assert EMAIL in raw and PHONE in raw  # PII stays in the (encrypted) store under the default policy
    assert "[CARD]" in raw and "[API_KEY]" in raw and "[SECRET]" in raw and "[TOKEN]" in raw
    assert any(r["message"] == "clean line 42 in 35ms" for r in rows)
    consumer = status["plugins"]["log_consumer"]
    assert consumer["privacy_ingest"] == "secrets"
    assert consumer["masked"]["card"] == 3 and consumer["masked"]["api_key"] == 2
    assert consumer["masked"]["secret_field"] >= 2
    assert "masked.card=3" in text_status.replace("\n", "").replace(" ", "").replace("│", "")

    for fmt in ("jsonl", "csv", "parquet"):
        target = tmp_path / f"out.{fmt}"
        done = run_aico(env, "logs", "export", str(target))
        assert done.returncode == 0, done.stderr
        data = _readable(target)
        for value in (*SECRETS, *PII):
            assert value.encode() not in data, (fmt, value)
    assert b"[EMAIL]" in (tmp_path / "out.jsonl").read_bytes()
    raw_export = run_aico(env, "logs", "export", "-", "--raw").stdout
    assert EMAIL in raw_export and CARD not in raw_export  # --raw: what the store holds


def test_ingest_off_stores_raw_and_every_way_out_still_scrubs(tmp_path: Path) -> None:
    """With ingest: off the raw values are stored; the export and the analytics copy still mask them."""
    env = home_env(tmp_path / "home", AICO_CORE__PRIVACY__INGEST="off")
    with Backend(env):
        _log_from_library(env)
        wait_until(lambda: len(stored(env)) == 3, timeout=30, message="3 records stored")
    raw = _text(stored(env))
    for value in (*SECRETS, *PII):
        assert value in raw, value
    export = run_aico(env, "logs", "export", "-")
    assert export.returncode == 0, export.stderr
    for value in (*SECRETS, *PII):
        assert value not in export.stdout, value
    parquet = tmp_path / "pq"
    etl = run_aico(env, "analytics", "etl", "--parquet", str(parquet), timeout=180)
    assert etl.returncode == 0, etl.stderr
    files = list(parquet.rglob("*.parquet"))
    assert files
    data = b"".join(_readable(path) for path in files)
    assert b"clean line 42" in data  # the check reads the records, not compressed bytes
    for value in (*SECRETS, *PII):
        assert value.encode() not in data, value
    query = run_aico(env, "analytics", "query", "SELECT message, extra FROM logs", "-o", "json")
    assert query.returncode == 0, query.stderr
    for value in (*SECRETS, *PII):
        assert value not in query.stdout, value
