"""The frontend bridge in a real backend process: the issue's curl checks, the WebSocket, durability."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.sync.client import connect

from aico.config import load_settings
from aico.store import LogStore

from support import Backend, canonical, run_aico, stamp, wait_until

SENT_AT = stamp(3600, offset_hours=1)  # an hour ago, in the sender's own zone


def rows(env: dict[str, str], where: str = "1=1") -> list[dict[str, Any]]:
    with LogStore.open(load_settings(env=env)) as store:
        return list(store.iter_rows(f"SELECT * FROM logs WHERE {where} ORDER BY id"))


def record(i: int, **more: Any) -> dict[str, Any]:
    return {"timestamp": SENT_AT, "level": "warn", "module": "web.chat",
            "function": "sendMessage", "file": "chat.js", "line": 40 + i, "topic": "ui/button/click",
            "message": f"clicked {i}", "trace_id": f"tr-{i}", "session_id": "se-1", **more}


def test_the_issues_curl_checks(env: dict[str, str]) -> None:
    """Valid record 2xx and stored as sent; 10 with 2 invalid stores 8 naming both; 413 oversized; 401 no token."""
    with Backend(env):
        token = run_aico(env, "bridge", "token").stdout.strip()
        url = run_aico(env, "bridge", "url").stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, timeout=30) as http:
            one = http.post("/api/v1/logs", json=record(0), headers=auth)
            assert one.status_code == 202, one.text
            wait_until(lambda: len(rows(env)) == 1, timeout=20, message="the record stored")
            [row] = rows(env)
            assert (row["timestamp"], row["level"], row["module"], row["function"], row["file"], row["line"]) == (
                canonical(SENT_AT), "WARNING", "web.chat", "sendMessage", "chat.js", 40)
            assert (row["topic"], row["trace_id"], row["session_id"], row["origin"], row["subsystem"]) == (
                "ui/button/click", "tr-0", "se-1", "frontend", "frontend")

            batch = [record(i) for i in range(1, 11)]
            batch[2]["timestamp"] = "yesterday"
            batch[8]["line"] = -1
            answer = http.post("/api/v1/logs/batch", json=batch, headers=auth)
            assert answer.status_code == 202
            body = answer.json()
            assert body["accepted"] == 8
            assert [(r["index"], r["errors"][0]["field"]) for r in body["rejected"]] == [(2, "timestamp"), (8, "line")]
            wait_until(lambda: len(rows(env)) == 9, timeout=20, message="the 8 valid records stored")
            assert sorted(r["message"] for r in rows(env))[1:] == sorted(f"clicked {i}" for i in
                                                                          (1, 2, 4, 5, 6, 7, 8, 10))

            big = http.post("/api/v1/logs/batch", headers={**auth, "Content-Type": "application/json"},
                            content=json.dumps([record(0, message="x" * 2**20)]))
            assert big.status_code == 413 and "max_body_bytes" in big.json()["error"]
            assert http.post("/api/v1/logs", json=record(0)).status_code == 401
    assert len(rows(env)) == 9


def test_websocket_batches_are_acked_and_stored_once(env: dict[str, str]) -> None:
    """A batch over the WebSocket is acknowledged; sending it again (same stamps) stores nothing twice."""
    with Backend(env):
        token = run_aico(env, "bridge", "token").stdout.strip()
        url = run_aico(env, "bridge", "url").stdout.strip().replace("http://", "ws://")
        batch = {"id": "b-1", "logs": [record(i, producer_id="tab-7", seq=i + 1) for i in range(20)]}
        with connect(f"{url}/api/v1/logs/ws?token={token}") as ws:
            for _ in range(2):
                ws.send(json.dumps(batch))
                assert json.loads(ws.recv(timeout=10)) == {"ack": "b-1", "accepted": 20, "rejected": []}
        wait_until(lambda: len(rows(env)) == 20, timeout=20, message="20 stored")
        stamps = [(r["producer_id"], r["seq"]) for r in rows(env)]
        assert stamps == [("frontend:tab-7", i) for i in range(1, 21)]


def test_accepted_records_arrive_after_the_collector_was_down(env: dict[str, str]) -> None:
    """A 2xx means the records are in the bridge producer's keeping: stored once a collector runs again."""
    env = {**env, "AICO_CORE__LOGGING__PRODUCER__FLUSH_TIMEOUT_S": "0.2"}
    with Backend(env, "--plugins", "message_bus,log_bridge"):
        token = run_aico(env, "bridge", "token").stdout.strip()
        url = run_aico(env, "bridge", "url").stdout.strip()
        answer = httpx.post(f"{url}/api/v1/logs/batch", json=[record(i) for i in range(100)],
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.json()["accepted"] == 100
    with Backend(env):
        wait_until(lambda: len(rows(env)) == 100, timeout=30, message="the 100 spooled records stored")
    assert sorted(int(r["message"].split()[1]) for r in rows(env)) == list(range(100))
