"""JSON nested past the depth limit, on every parse path: a named 4xx or rejection, never a 500 or lost neighbours."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from websockets.sync.client import connect

from aico.errors import ValidationError
from aico.logging.fields import build
from aico.schema import wire
from aico.schema.jsondepth import DEPTH_MESSAGE, MAX_JSON_DEPTH, cut_deeper_than, json_depth, value_depth

from bridge_support import TOKEN, MemorySink, record, served
from support import examples

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
DEPTHS = (MAX_JSON_DEPTH + 1, 1100, 200_000)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_extra(extra_text: str, i: int = 0) -> str:
    good = json.dumps(record(i))
    return good[:-1] + ', "extra": {"a": ' + extra_text + "}}"


json_values = st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                         max_size=3), max_leaves=30)


@given(json_values)
@hsettings(max_examples=examples(100), deadline=None)
def test_the_byte_scan_counts_depth_as_the_parser_sees_it(value: object) -> None:
    """json_depth on the text equals the depth of the parsed value, brackets inside strings not counted."""
    text = json.dumps(value)
    assert json_depth(text) == value_depth(value)
    assert json.loads(cut_deeper_than(text.encode(), 2)) is not None or value is None


def test_cutting_keeps_the_shallow_part_and_bounds_the_depth() -> None:
    """A value past the cut is replaced (an empty array at the cut's depth), the rest kept as it was."""
    text = b'[1, "[[[", ' + nested(10).encode() + b', {"k": [2]}]'
    cut = cut_deeper_than(text, 3)
    assert json.loads(cut) == [1, "[[[", [[[]]], {"k": [2]}]
    assert json_depth(cut) == 4


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, MemorySink]]:
    with served(tmp_path_factory.mktemp("bridge")) as (url, sink):
        yield url, sink


@pytest.mark.parametrize("depth", DEPTHS)
def test_http_a_deep_record_is_rejected_alone_and_its_neighbours_are_kept(bridge: tuple[str, MemorySink],
                                                                          depth: int) -> None:
    """Batch: 202, the deep record rejected naming the limit; alone: 422 naming it; never a 500."""
    url, sink = bridge
    sink.records.clear()
    body = "[" + json.dumps(record(1)) + "," + with_extra(nested(depth)) + "," + json.dumps(record(2)) + "]"
    wrapped = '{"logs": ' + body + "}"
    with httpx.Client(base_url=url, timeout=30) as client:
        for content in (body, wrapped):
            r = client.post("/api/v1/logs/batch", content=content, headers=AUTH)
            assert r.status_code == 202, r.text
            assert r.json() == {"accepted": 2, "rejected": [
                {"index": 1, "errors": [{"field": "extra", "message": DEPTH_MESSAGE}]}]}
        r = client.post("/api/v1/logs", content=with_extra(nested(depth)), headers=AUTH)
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "extra", "message": DEPTH_MESSAGE}]
        as_text = json.dumps(record(3, extra=nested(MAX_JSON_DEPTH + 1)))
        r = client.post("/api/v1/logs", content=as_text, headers=AUTH)
        assert r.status_code == 422 and r.json()["errors"] == [{"field": "extra", "message": DEPTH_MESSAGE}]
        r = client.post("/api/v1/logs", content=nested(depth), headers=AUTH)
        assert r.status_code == 422
    assert sorted(r["message"] for r in sink.records) == ["clicked 1", "clicked 1", "clicked 2", "clicked 2"]


def test_at_the_limit_a_record_is_taken(bridge: tuple[str, MemorySink]) -> None:
    """extra nested exactly MAX_JSON_DEPTH levels is accepted and kept whole."""
    url, sink = bridge
    sink.records.clear()
    extra_text = '{"a": ' + nested(MAX_JSON_DEPTH - 1) + "}"
    with httpx.Client(base_url=url) as client:
        good = json.dumps(record(1))[:-1] + ', "extra": ' + extra_text + "}"
        r = client.post("/api/v1/logs", content=good, headers=AUTH)
    assert r.status_code == 202, r.text
    assert json.loads(sink.records[0]["extra"]) == json.loads(extra_text)


@pytest.mark.parametrize("depth", DEPTHS)
def test_websocket_a_deep_record_is_rejected_in_its_ack_and_the_socket_stays(bridge: tuple[str, MemorySink],
                                                                            depth: int) -> None:
    """Over the WebSocket: the batch is acked with the deep record rejected; a deep envelope is a 422 answer."""
    url, sink = bridge
    sink.records.clear()
    ws_url = url.replace("http://", "ws://") + f"/api/v1/logs/ws?token={TOKEN}"
    with connect(ws_url, max_size=None) as ws:
        ws.send('{"id": 5, "logs": [' + json.dumps(record(1)) + "," + with_extra(nested(depth)) + "]}")
        answer = json.loads(ws.recv(timeout=30))
        assert answer == {"ack": 5, "accepted": 1, "rejected": [
            {"index": 1, "errors": [{"field": "extra", "message": DEPTH_MESSAGE}]}]}
        ws.send(nested(depth))
        assert json.loads(ws.recv(timeout=30)).get("accepted", 0) == 0
        ws.send(json.dumps({"id": 6, "logs": [record(2)]}))
        assert json.loads(ws.recv(timeout=30))["ack"] == 6
    assert [r["message"] for r in sink.records] == ["clicked 1", "clicked 2"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_bus_payloads_too_deep_are_validation_errors(depth: int) -> None:
    """A JSON payload or a protobuf extra past the limit is a ValidationError naming it (a reject), not a crash."""
    with pytest.raises(ValidationError, match="depth limit"):
        wire.decode_row(with_extra(nested(depth)).encode(), max_record_bytes=1 << 30)
    entry = dict(record(1), extra='{"a": ' + nested(depth) + "}")
    payload = wire.encode({**entry, "extra": None}, stamp=False)
    from aico.schema.log_entry_pb2 import LogEntry
    msg = LogEntry()
    msg.ParseFromString(payload)
    msg.extra = entry["extra"]
    with pytest.raises(ValidationError, match="depth limit"):
        wire.decode_row(msg.SerializeToString(), max_record_bytes=1 << 30)


def test_the_logger_keeps_a_record_whose_extra_is_too_deep_or_circular() -> None:
    """An application's extra that cannot be stored is replaced by a note; the record itself still goes."""
    deep: list[object] = []
    cur = deep
    for _ in range(5000):
        cur.append([])
        cur = cur[0]  # type: ignore[assignment]
    circular: dict[str, object] = {}
    circular["self"] = circular
    for value in (deep, circular, json.loads(nested(MAX_JSON_DEPTH + 5))):
        rec = logging.LogRecord("app", logging.INFO, "f.py", 1, "kept", None, None)
        rec.payload = value
        built = build(rec, subsystem="s", origin="o", environment="e", max_message_bytes=1000)
        assert built["message"] == "kept"
        assert json.loads(built["extra"])["extra_keys"] == ["payload"]


def test_websocket_an_unexpected_error_is_a_close_frame_and_counted(bridge: tuple[str, MemorySink],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while answering closes the socket with 1011 (a close frame the client reads), counted in errors."""
    from websockets.exceptions import ConnectionClosedError

    from aico.bridge import websocket as ws_module

    def broken(*_: object) -> dict[str, object]:
        raise RuntimeError("boom")

    url, _ = bridge
    monkeypatch.setattr(ws_module, "answer", broken)
    ws_url = url.replace("http://", "ws://") + f"/api/v1/logs/ws?token={TOKEN}"
    with connect(ws_url) as ws:
        ws.send(json.dumps({"id": 1, "logs": [record(1)]}))
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    with httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/health").status_code == 200
