"""The bridge's WebSocket: batches with ids, acks once taken, nacks under backpressure, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bridge_support import ORIGIN, TOKEN, MemorySink, record, served


@pytest.fixture
def bridge(tmp_path) -> Iterator[tuple[str, MemorySink]]:  # type: ignore[no-untyped-def]
    with served(tmp_path, max_batch_records=50) as (url, sink):
        yield url.replace("http://", "ws://") + "/api/v1/logs/ws", sink


def ask(ws: ClientConnection, message: Any) -> dict[str, Any]:
    ws.send(json.dumps(message))
    return json.loads(ws.recv(timeout=10))  # type: ignore[no-any-return]


def test_each_batch_is_acked_with_its_judgement(bridge: tuple[str, MemorySink]) -> None:
    """An ack names the batch id, how many were taken and which indexes were rejected."""
    url, sink = bridge
    with connect(f"{url}?token={TOKEN}") as ws:
        assert ask(ws, {"id": 1, "logs": [record(1), record(2)]}) == {"ack": 1, "accepted": 2, "rejected": []}
        answer = ask(ws, {"id": "b2", "logs": [record(3), {"level": "INFO"}]})
        assert answer["ack"] == "b2" and answer["accepted"] == 1 and answer["rejected"][0]["index"] == 1
    assert [r["message"] for r in sink.records] == ["clicked 1", "clicked 2", "clicked 3"]


def test_backpressure_is_a_nack_with_retry_after(bridge: tuple[str, MemorySink]) -> None:
    """When the producer is full the batch is nacked (send again later) and nothing is taken."""
    url, sink = bridge
    sink.full = True
    with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert ask(ws, {"id": 7, "logs": [record()]}) == {"nack": 7, "retry_after": 1}
        sink.full = False
        assert ask(ws, {"id": 7, "logs": [record()]})["ack"] == 7
    assert len(sink.records) == 1


def test_a_batch_not_durable_is_a_nack_never_an_ack(bridge: tuple[str, MemorySink]) -> None:
    """A batch the producer cannot make durable is nacked with retry_after; the socket stays open."""
    url, sink = bridge
    sink.durable = False
    with connect(f"{url}?token={TOKEN}") as ws:
        assert ask(ws, {"id": 8, "logs": [record()]}) == {"nack": 8, "retry_after": 1}
        sink.durable = True
        assert ask(ws, {"id": 8, "logs": [record()]})["ack"] == 8
    assert sink.counters.not_durable == 1 and sink.counters.accepted == 1


def test_refused_batches_say_why_and_the_socket_stays_open(bridge: tuple[str, MemorySink]) -> None:
    """Too many records is a 413 answer, bad JSON a 422 answer; the next batch still works."""
    url, sink = bridge
    assert not sink.records
    with connect(f"{url}?token={TOKEN}") as ws:
        too_many = ask(ws, {"id": 1, "logs": [record(i) for i in range(51)]})
        assert too_many["status"] == 413 and "max_batch_records" in too_many["error"] and too_many["id"] == 1
        ws.send("{nope")
        assert json.loads(ws.recv(timeout=10))["status"] == 422
        assert ask(ws, {"id": 2, "logs": [record()]})["accepted"] == 1
    assert len(sink.records) == 1


@pytest.mark.parametrize("how", ["no token", "wrong origin"])
def test_unauthorised_sockets_are_refused(bridge: tuple[str, MemorySink], how: str) -> None:
    """No token, or a browser origin not in cors_origins: the handshake is refused."""
    url, _ = bridge
    target = url if how == "no token" else f"{url}?token={TOKEN}"
    origin = ORIGIN if how == "no token" else "http://evil.test"
    with pytest.raises(InvalidStatus) as info:
        connect(target, origin=origin)  # type: ignore[arg-type]
    assert info.value.response.status_code == 403
