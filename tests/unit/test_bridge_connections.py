"""Connections that hold the bridge: idle or half-sent requests are closed in time; a client gone mid-body counted."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from bridge_support import TOKEN, MemorySink, record, served
from support import wait_until


@pytest.fixture
def bridge(tmp_path) -> Iterator[tuple[str, MemorySink]]:  # type: ignore[no-untyped-def]
    with served(tmp_path, request_timeout_s=1.0, keep_alive_s=1.0) as (url, sink):
        yield url, sink


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.settimeout(10)
    return s


def closed_by_server(s: socket.socket) -> bool:
    """True once the server ends the connection (a socket timeout fails the test instead)."""
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return True


HEAD = f"POST /api/v1/logs/batch HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n" \
       "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"


@pytest.mark.parametrize("sent", ["", "POST /api/v1/logs HTTP/1.1\r\nHost: t\r\n", HEAD + "[{"])
def test_a_request_not_sent_whole_in_time_is_closed(bridge: tuple[str, MemorySink], sent: str) -> None:
    """Nothing, half the headers or half the body: the connection is closed after request_timeout_s."""
    url, sink = bridge
    before = sink.counters.timeouts
    s = connect(url)
    s.sendall(sent.encode())
    wait_until(lambda: closed_by_server(s), timeout=10, message="the server closing the connection")
    s.close()
    assert sink.counters.timeouts == before + 1
    with httpx.Client(base_url=url) as client:  # the bridge is fine, and it says what it did
        assert client.get("/api/v1/health").status_code == 200


def test_a_slow_but_whole_request_and_keep_alive_still_work(bridge: tuple[str, MemorySink]) -> None:
    """A request sent whole within the limit is answered; the next one on the same connection too."""
    url, sink = bridge
    sink.records.clear()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.post("/api/v1/logs", json=record(1)).status_code == 202
        assert client.post("/api/v1/logs", json=record(2)).status_code == 202
    assert len(sink.records) == 2


def test_a_client_gone_mid_body_is_counted_not_a_traceback(bridge: tuple[str, MemorySink],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A client that disconnects in the middle of its body leaves no ASGI traceback; it is counted."""
    url, sink = bridge
    sink.records.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            s = connect(url)
            s.sendall((HEAD + "[" + json.dumps(record(1))).encode())
            s.close()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert client.post("/api/v1/logs", json=record(2)).status_code == 202
            wait_until(lambda: sink.records, message="the good record")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert len(sink.records) == 1
    wait_until(lambda: sink.counters.disconnects == 3, message="three disconnects counted")
