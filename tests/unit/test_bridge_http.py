"""The bridge's HTTP routes against a real uvicorn server: judgement, limits, auth, backpressure, CORS."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aico.errors import OverloadedError

from bridge_support import ORIGIN, TOKEN, MemorySink, record, served
from support import wait_until

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, MemorySink]]:
    with served(tmp_path_factory.mktemp("bridge")) as (url, sink), httpx.Client(base_url=url) as client:
        yield client, sink


@pytest.fixture
def client(bridge: tuple[httpx.Client, MemorySink]) -> httpx.Client:
    return bridge[0]


@pytest.fixture
def sink(bridge: tuple[httpx.Client, MemorySink]) -> Iterator[MemorySink]:
    bridge[1].records.clear()
    yield bridge[1]
    bridge[1].full = False
    bridge[1].durable = True


def test_a_record_keeps_the_frontends_own_context(client: httpx.Client, sink: MemorySink) -> None:
    """Timestamp, module, function, file, line, topic, trace and session ids are kept as sent; origin defaults."""
    sent = record(file="chat.js", line=42, trace_id="tr-1", session_id="se-1", extra={"k": 1})
    r = client.post("/api/v1/logs", json=sent, headers=AUTH)
    assert (r.status_code, r.json()) == (202, {"accepted": 1, "rejected": []})
    [got] = sink.records
    for name in ("timestamp", "module", "function", "file", "line", "topic", "trace_id", "session_id", "message"):
        assert got[name] == sent[name], name
    assert (got["origin"], got["subsystem"], got["extra"]) == ("frontend", "frontend", '{"k":1}')
    assert got["producer_id"] is None and got["seq"] is None  # the relaying producer stamps it


def test_the_spec_endpoint_answers_204(client: httpx.Client, sink: MemorySink) -> None:
    """POST /log, as the spec's example names it, takes one record and answers 204."""
    r = client.post("/log", json=record(origin="mobile"), headers=AUTH)
    assert r.status_code == 204 and sink.records[0]["origin"] == "mobile"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}])
def test_no_or_a_wrong_token_is_401(client: httpx.Client, sink: MemorySink, headers: dict[str, str]) -> None:
    """Without the bearer token nothing is taken: 401 with WWW-Authenticate."""
    r = client.post("/api/v1/logs/batch", json=[record()], headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in r.json()["error"] and not sink.records


def test_a_batch_is_judged_record_by_record(client: httpx.Client, sink: MemorySink) -> None:
    """Ten records, two invalid: eight taken, the two indexes named with their fields."""
    batch = [record(i) for i in range(10)]
    batch[3] = {**batch[3], "level": "LOUD"}
    del batch[7]["module"]
    r = client.post("/api/v1/logs/batch", json=batch, headers=AUTH)
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 8
    named = [(x["index"], [e["field"] for e in x["errors"]]) for x in body["rejected"]]
    assert named == [(3, ["level"]), (7, ["module"])]
    assert [rec["message"] for rec in sink.records] == [f"clicked {i}" for i in range(10) if i not in (3, 7)]


@pytest.mark.parametrize("field", ["file", "function", "module", "topic", "trace_id", "user_id", "function_name"])
def test_a_field_over_1024_characters_rejects_only_its_record(
        client: httpx.Client, sink: MemorySink, field: str) -> None:
    """A browser's long file or function name (> 1024 characters) rejects that record; its batch goes through."""
    long = record(1, **{field: "x" * 1025})
    if field == "function_name":  # the consumer document's name for function: judged by the same rule
        del long["function"]
    r = client.post("/api/v1/logs/batch", json=[record(0), long, record(2)], headers=AUTH)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "rejected": [{"index": 1, "errors": [
        {"field": "function" if field == "function_name" else field, "message": "longer than 1024 characters"}]}]}
    assert [rec["message"] for rec in sink.records] == ["clicked 0", "clicked 2"]


def test_json_the_fast_parser_refuses_is_still_taken(client: httpx.Client, sink: MemorySink) -> None:
    """Bodies the fast parser refuses (a lone surrogate escape, NaN) are parsed the standard way, not refused."""
    body = json.dumps([record(0, message="a\ud800b", extra={"ratio": float("nan")})]).encode()
    assert b"\\ud800" in body and b"NaN" in body
    r = client.post("/api/v1/logs/batch", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.json() == {"accepted": 1, "rejected": []}
    assert sink.records[0]["message"] == "a\ufffdb" and sink.records[0]["extra"] == '{"ratio":null}'


def test_logs_object_and_gzip_are_accepted(client: httpx.Client, sink: MemorySink) -> None:
    """{"logs": [...]} works as well as an array, and a gzip body is decoded."""
    body = gzip.compress(json.dumps({"logs": [record(1), record(2)]}).encode())
    r = client.post("/api/v1/logs/batch", content=body, headers={**AUTH, "Content-Encoding": "gzip",
                                                                  "Content-Type": "application/json"})
    assert r.json() == {"accepted": 2, "rejected": []} and len(sink.records) == 2


def test_stamped_records_keep_the_clients_id_and_seq(client: httpx.Client, sink: MemorySink) -> None:
    """A client's producer_id and seq become the stored stamp (under frontend:); half a stamp is an error."""
    r = client.post("/api/v1/logs/batch", json=[record(producer_id="tab-9", seq=5), record(seq=6),
                                                record(producer_id="bad id", seq=0)], headers=AUTH)
    body = r.json()
    assert body["accepted"] == 1
    assert (sink.records[0]["producer_id"], sink.records[0]["seq"]) == ("frontend:tab-9", 5)
    assert {e["field"] for e in body["rejected"][0]["errors"]} == {"producer_id"}
    assert {e["field"] for e in body["rejected"][1]["errors"]} == {"producer_id", "seq"}


@pytest.mark.parametrize("case", ["body", "gzip", "count", "message"])
def test_limits_give_413_naming_the_limit(client: httpx.Client, sink: MemorySink, case: str) -> None:
    """Body 1 MiB (also after gunzip), 1,000 records a batch, 64 KiB a message: 413 saying which."""
    headers = {**AUTH, "Content-Type": "application/json"}
    if case == "body":
        r = client.post("/api/v1/logs/batch", json=[record(message="x" * 60000) for _ in range(18)], headers=AUTH)
        key = "max_body_bytes"
    elif case == "gzip":
        bomb = gzip.compress(json.dumps([record(message="x" * 60000) for _ in range(18)]).encode())
        r = client.post("/api/v1/logs/batch", content=bomb, headers={**headers, "Content-Encoding": "gzip"})
        key = "max_body_bytes"
    elif case == "count":
        r = client.post("/api/v1/logs/batch", json=[record(i) for i in range(1001)], headers=AUTH)
        key = "max_batch_records"
    else:
        r = client.post("/api/v1/logs", json=record(message="é" * 40000), headers=AUTH)
        key = "max_message_bytes"
    assert r.status_code == 413 and key in r.json()["error"], r.text
    assert not sink.records


def test_malformed_json_is_422_with_the_reason(client: httpx.Client, sink: MemorySink) -> None:
    """A body that is not JSON is refused whole with a field error on 'body'."""
    r = client.post("/api/v1/logs/batch", content=b"[{", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"


def test_a_full_producer_gives_429_with_retry_after(client: httpx.Client, sink: MemorySink) -> None:
    """Backpressure is 429 with Retry-After, never a 500, and nothing of the batch is taken."""
    sink.full = True
    r = client.post("/api/v1/logs/batch", json=[record(1), record(2)], headers=AUTH)
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and not sink.records
    one = client.post("/api/v1/logs", json=record(3), headers=AUTH)
    assert one.status_code == 429 and one.headers["retry-after"] == "1" and not sink.records


def test_a_2xx_only_once_the_records_are_durable_else_503(client: httpx.Client, sink: MemorySink) -> None:
    """Records the producer cannot make durable get a 503 with Retry-After on every route, never a 2xx."""
    sink.durable = False
    r = client.post("/api/v1/logs/batch", json=[record(1), record(2)], headers=AUTH)
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert "core.bridge.durable_timeout_s" in r.json()["error"]
    assert client.post("/api/v1/logs", json=record(3), headers=AUTH).status_code == 503
    assert client.post("/log", json=record(4), headers=AUTH).status_code == 503
    export = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}}]}]}]}
    otlp = client.post("/v1/logs", json=export, headers=AUTH)
    assert otlp.status_code == 503 and otlp.headers["retry-after"] == "1" and otlp.json()["code"] == 14
    assert sink.counters.not_durable == 4 and sink.counters.errors == 0


def test_a_2xx_waits_for_the_receipt_and_times_out_as_503(tmp_path: Path) -> None:
    """The answer waits until the producer says durable; a receipt not settled in durable_timeout_s is a 503."""
    with served(tmp_path / "a", durable_timeout_s=0.3) as (url, sink):
        sink.durable = None  # receipts stay pending
        late = httpx.post(f"{url}/api/v1/logs/batch", json=[record(1)], headers=AUTH)
        assert late.status_code == 503 and late.headers["retry-after"] == "1"
        assert sink.counters.accepted == 0 and sink.counters.not_durable == 1
    with served(tmp_path / "b", durable_timeout_s=30) as (url, sink):
        sink.durable = None
        answers: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}/api/v1/logs/batch", json=[record(2)], headers=AUTH, timeout=10)))
        thread.start()
        wait_until(lambda: len(sink.receipts) == 1, message="the batch handed over")
        assert not answers  # no answer while the receipt is pending
        sink.receipts[0].set_result(True)
        thread.join(10)
        assert answers[0].status_code == 202 and sink.counters.accepted == 1


def test_a_batch_without_room_is_refused_before_it_is_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the producer has no room for a batch, it is not judged at all: a 429 costs no validation."""
    from aico.bridge.intake import Intake
    from aico.config import load_settings

    sink = MemorySink()
    intake = Intake(load_settings(home=tmp_path, env={}), sink)
    judged: list[int] = []
    monkeypatch.setattr(intake, "judge", lambda raws, size: judged.append(len(raws)))
    sink.full = True
    with pytest.raises(OverloadedError) as refused:
        asyncio.run(intake.batch([record(i) for i in range(500)], 10_000))
    assert refused.value.retry_after_s == 1 and not judged and not sink.records
    assert intake.counters.overloaded == 1


def test_beacon_takes_the_token_as_a_query_parameter(client: httpx.Client, sink: MemorySink) -> None:
    """sendBeacon cannot set headers: the beacon route takes ?token= and a text/plain JSON body."""
    body = json.dumps([record(1)])
    r = client.post("/api/v1/logs/beacon", params={"token": TOKEN}, content=body,
                    headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 202 and len(sink.records) == 1
    assert client.post("/api/v1/logs/beacon", params={"token": "nope"}, content=body).status_code == 401
    assert client.post("/api/v1/logs/batch", params={"token": TOKEN}, content=body).status_code == 401


def test_cors_allows_only_configured_origins(client: httpx.Client) -> None:
    """A preflight from an allowed origin is answered with it; another origin gets no allow header."""
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = client.options("/api/v1/logs/batch", headers={"Origin": ORIGIN, **ask})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ORIGIN
    bad = client.options("/api/v1/logs/batch", headers={"Origin": "http://evil.test", **ask})
    assert "access-control-allow-origin" not in bad.headers


def test_token_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    """The token is made at first use in keys/bridge.token (0600) and read back the same after."""
    from aico.bridge.auth import load_token, token_path
    from aico.config import load_settings

    settings = load_settings(home=tmp_path, env={})
    first = load_token(settings)
    assert len(first) >= 40 and load_token(settings) == first
    assert token_path(settings).stat().st_mode & 0o777 == 0o600


def test_the_bridges_producer_waits_at_most_a_few_ms_when_idle(tmp_path: Path) -> None:
    """A 2xx waits for the relaying producer's next spool write: its idle wait is cut to DURABLE_STEP_MS,
    and nothing else of the settings changes."""
    from aico.bridge.process import DURABLE_STEP_MS, relay_settings
    from aico.config import load_settings

    settings = load_settings(home=tmp_path, env={})
    relayed = relay_settings(settings)
    assert relayed.core.logging.producer.flush_interval_ms == DURABLE_STEP_MS < 20
    rest = relayed.core.logging.producer.model_copy(update={"flush_interval_ms": 20})
    assert rest == settings.core.logging.producer and relayed.spool_dir == settings.spool_dir
