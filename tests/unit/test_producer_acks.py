"""Acknowledgements that go wrong are counted, never swallowed: bad or unknown (timeouts: test_producer)."""

from __future__ import annotations

from pathlib import Path

from test_producer import make_settings, rec, sent_seqs, start

from aico.logging.producer import Producer
from aico.logging.transport import MemoryTransport
from aico.schema.acks import encode_ack

from support import wait_until


def test_an_ack_that_cannot_be_read_is_counted_as_bad(tmp_path: Path) -> None:
    """Bytes that are no acknowledgement, an empty message and an ack for another producer count as acks_bad."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    p.offer(rec(1))
    wait_until(lambda: len(sent_seqs(t)) == 1)
    t.ack(b"\xff\xff not protobuf")
    t.ack(b"")
    t.ack(encode_ack("someone-else", [1]))
    wait_until(lambda: p.snapshot()["acks_bad"] == 3, message="three bad acks counted")
    assert p.snapshot()["acknowledged"] == 0
    t.ack(encode_ack(p.producer_id, [1]))
    assert p.flush(5)
    assert p.snapshot()["acks_bad"] == 3 and p.snapshot()["acknowledged"] == 1
    p.close(0)


def test_an_ack_for_seqs_not_in_flight_is_counted_as_unknown(tmp_path: Path) -> None:
    """Acknowledging a seq twice, or one never sent, counts each such seq in acks_unknown."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    for i in range(3):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 3)
    t.ack(encode_ack(p.producer_id, [1, 2, 3]))
    assert p.flush(5)
    t.ack(encode_ack(p.producer_id, [2, 3, 50]))
    wait_until(lambda: p.snapshot()["acks_unknown"] == 3, message="three unknown seqs counted")
    assert p.snapshot()["acknowledged"] == 3
    p.close(0)


def test_the_bridge_status_shows_the_ack_counters(tmp_path: Path) -> None:
    """The relaying producer's ack counters reach the bridge's status (aico gateway status)."""
    from aico.bridge.process import PRODUCER_FIGURES

    p = Producer(make_settings(tmp_path), name="b", transport_factory=lambda *_: MemoryTransport())
    assert {"acks_bad", "acks_unknown", "ack_timeouts"} <= set(PRODUCER_FIGURES) <= set(p.snapshot())
    p.close(0)
