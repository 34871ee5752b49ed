"""Fuzz campaign, the bridge over real HTTP and WebSocket (uvicorn, memory sink): no 5xx, no dropped socket
without a close frame, and the good records around the bad ones taken."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import connect

from hostile import fuzz, good_record, hostile_records, json_values, nasty_text, to_json_bytes

from bridge_support import TOKEN, MemorySink, served

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MemorySink]]:
    with served(tmp_path_factory.mktemp("fuzz-bridge"), max_batch_records=50, max_body_bytes=256 * 1024) as running:
        yield running


def good_marks(sink: MemorySink) -> set[int]:
    marks = set()
    for r in sink.records:
        extra = json.loads(r["extra"]) if isinstance(r["extra"], str) else (r["extra"] or {})
        if isinstance(extra, dict) and isinstance(extra.get("i"), int) and r["message"] == f"good {extra['i']}":
            marks.add(extra["i"])
    return marks


counter = iter(range(10**9))


@fuzz(examples=20)
@given(st.lists(hostile_records(), min_size=1, max_size=6))
def test_hostile_records_in_a_batch(bridge: tuple[str, MemorySink], bad: list[Any]) -> None:
    """A batch of hostile records between good ones: never a 5xx; with a 2xx, every good record is taken."""
    url, sink = bridge
    first, last = next(counter), next(counter)
    body = to_json_bytes([good_record(first), *bad, good_record(last)])
    answer = httpx.post(f"{url}/api/v1/logs/batch", content=body, timeout=30,
                        headers={**AUTH, "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text
    if answer.status_code < 300:
        assert {first, last} <= good_marks(sink), answer.text
        rejected = {r["index"] for r in answer.json()["rejected"]}
        assert not rejected & {0, len(bad) + 1}


@fuzz(examples=20)
@given(route=st.sampled_from(["/api/v1/logs", "/api/v1/logs/batch", "/log", f"/api/v1/logs/beacon?token={TOKEN}"]),
       body=st.one_of(st.binary(max_size=200), json_values.map(to_json_bytes), hostile_records().map(to_json_bytes)),
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=x", "", "application/json; charset=latin-1"]),
       gzipped=st.sampled_from(["none", "real", "claimed"]))
def test_hostile_bodies_on_every_route(bridge: tuple[str, MemorySink], route: str, body: bytes, content_type: str,
                                       gzipped: str) -> None:
    """Any body, content type or (false) gzip claim on any route: a 2xx or a 4xx with a message, never a 5xx."""
    url, _ = bridge
    headers = {**AUTH, "Content-Type": content_type}
    if gzipped != "none":
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body) if gzipped == "real" else body
    answer = httpx.post(f"{url}{route}", content=body, headers=headers, timeout=30)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert answer.text


@fuzz(examples=10)
@given(value=nasty_text.filter(lambda t: t.isascii() and t.isprintable() and t == t.strip()),
       where=st.sampled_from(["header", "query", "both"]))
def test_hostile_tokens_are_refused(bridge: tuple[str, MemorySink], value: str, where: str) -> None:
    """Any token other than the bridge's own: 401 (or 4xx for a malformed header), never a 5xx, nothing taken."""
    url, sink = bridge
    before = len(sink.records)
    headers = {"Authorization": f"Bearer {value}".strip()} if where != "query" else {}
    params = {"token": value} if where != "header" else {}
    answer = httpx.post(f"{url}/api/v1/logs", json=good_record(next(counter)), headers=headers, params=params,
                        timeout=30)
    assert 400 <= answer.status_code < 500 or value == TOKEN
    assert len(sink.records) == before or value == TOKEN


def sendable(message: str | bytes) -> str | bytes:
    """Text a WebSocket client can send; text that is not valid Unicode goes as the bytes it would be."""
    if isinstance(message, str):
        try:
            message.encode("utf-8")
        except UnicodeEncodeError:
            return message.encode("utf-8", "surrogatepass")
    return message


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + f"/api/v1/logs/ws?token={TOKEN}"


@fuzz(examples=20)
@given(st.lists(st.one_of(json_values.map(lambda v: json.dumps(v, allow_nan=True)),
                          st.builds(lambda bad: json.dumps({"id": 1, "logs": bad}, allow_nan=True),
                                    st.lists(hostile_records(), max_size=4)),
                          st.binary(max_size=100), nasty_text), min_size=1, max_size=4))
def test_hostile_websocket_messages(bridge: tuple[str, MemorySink], messages: list[Any]) -> None:
    """Hostile WebSocket messages get an answer each, or a close frame with a policy code; never error 1011.
    The next batch, on the same socket or a new one, is taken."""
    url, sink = bridge
    with connect(ws_url(url), open_timeout=30) as ws:
        try:
            for message in messages:
                ws.send(sendable(message))
                answer = json.loads(ws.recv(timeout=30))
                assert isinstance(answer, dict) and ("ack" in answer or "status" in answer or "nack" in answer)
                assert answer.get("status", 200) < 500, answer
            mark = next(counter)
            ws.send(json.dumps({"id": "after", "logs": [good_record(mark)]}))
            assert json.loads(ws.recv(timeout=30))["accepted"] == 1
            assert mark in good_marks(sink)
            return
        except ConnectionClosedOK:
            pass
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            assert closed.rcvd.code in (1003, 1007, 1008, 1009), closed
    mark = next(counter)
    with connect(ws_url(url), open_timeout=30) as ws:
        ws.send(json.dumps({"id": "again", "logs": [good_record(mark)]}))
        assert json.loads(ws.recv(timeout=30))["accepted"] == 1
