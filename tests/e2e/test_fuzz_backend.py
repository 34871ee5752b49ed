"""Fuzz campaign against a real backend: hostile bus payloads (protobuf and JSON) from a keyed publisher and
hostile bodies to the bridge's own process, with good records around them. No process crashes or restarts,
no 5xx, no traceback in the backend's output, and every good record is stored once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st
from test_bridge_process import running_bridge
from test_spine import raw_publisher

from aico.config import load_settings
from aico.store import LogStore
from hostile import bus_payloads, fuzz, good_record, hostile_records, json_values, to_json_bytes

from support import Backend, home_env, run_aico, wait_until


class Running:
    """A backend with its bridge, a keyed raw publisher, and the next good record's mark."""

    def __init__(self, home: Path) -> None:
        self.env = home_env(home)
        self.backend = Backend(self.env, "--plugins", "message_bus,log_consumer,log_bridge").start()
        self.bridge_pid = running_bridge(self.env)["pid"]
        self.pub = raw_publisher(self.env)
        self.token = run_aico(self.env, "bridge", "token").stdout.strip()
        self.url = f"http://127.0.0.1:{self.env['AICO_CORE__BRIDGE__PORT']}"
        self.next = 0
        self.seq = 0

    def mark(self) -> int:
        self.next += 1
        return self.next

    def good_bus(self) -> tuple[int, bytes]:
        i, self.seq = self.mark(), self.seq + 1
        return i, json.dumps(good_record(i, producer_id="fuzz-pub", seq=self.seq)).encode()

    def stored_marks(self) -> list[int]:
        with LogStore.open(load_settings(env=self.env)) as store:
            return [int(r["i"]) for r in store.iter_rows(
                "SELECT extra->>'i' AS i FROM logs WHERE message = 'good ' || (extra->>'i')")]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    it = Running(tmp_path_factory.mktemp("fuzz-backend") / "home")
    try:
        i, first = it.good_bus()

        def subscribed() -> bool:
            it.pub.send_multipart([b"logs.fuzz.t", first])  # the same (producer, seq): stored once
            return i in it.stored_marks()

        wait_until(subscribed, timeout=30, interval=0.2, message="the publisher's subscription")
        yield it
        assert it.backend.proc is not None and it.backend.proc.poll() is None, "the backend is still up"
        assert running_bridge(it.env)["pid"] == it.bridge_pid, "the bridge process never restarted"
        assert sorted(it.stored_marks()) == sorted(set(it.stored_marks())), "no good record stored twice"
    finally:
        it.pub.close(linger=0)
        it.backend.stop()
    assert "Traceback" not in it.backend.output(), it.backend.output()[-3000:]


@fuzz(examples=8)
@given(st.lists(st.lists(bus_payloads, min_size=1, max_size=3), min_size=1, max_size=10))
def test_hostile_bus_messages_among_good_ones(running: Running, messages: list[list[bytes]]) -> None:
    """Hostile multipart bus messages, each with a good record beside it: every good record is stored once."""
    want = []
    for payloads in messages:
        i, good = running.good_bus()
        want.append(i)
        running.pub.send_multipart([b"logs.fuzz.t", *payloads, good])
        running.pub.send_multipart([b"logs.fuzz.t", *payloads])
    running.pub.send_multipart([b"logs.fuzz.t"], zmq.NOBLOCK)  # a topic with no payload at all
    wait_until(lambda: set(want) <= set(running.stored_marks()), timeout=60, interval=0.2,
               message="every good record beside the hostile payloads")


@fuzz(examples=8)
@given(bad=st.lists(hostile_records(), min_size=1, max_size=5),
       junk=st.one_of(st.binary(max_size=64), json_values.map(to_json_bytes)))
def test_hostile_bridge_bodies_among_good_ones(running: Running, bad: list[Any], junk: bytes) -> None:
    """Hostile batches and bodies to the bridge process: never a 5xx, and the good records of a batch stored."""
    headers = {"Authorization": f"Bearer {running.token}", "Content-Type": "application/json"}
    first, last = running.mark(), running.mark()
    body = to_json_bytes([good_record(first), *bad, good_record(last)])
    with httpx.Client(base_url=running.url, headers=headers, timeout=30) as http:
        answer = http.post("/api/v1/logs/batch", content=body)
        assert answer.status_code < 500, answer.text
        for route in ("/api/v1/logs", "/api/v1/logs/batch", "/log"):
            assert http.post(route, content=junk).status_code < 500
    if answer.status_code < 300:
        wait_until(lambda: {first, last} <= set(running.stored_marks()), timeout=60, interval=0.2,
                   message="the good records of the batch")
