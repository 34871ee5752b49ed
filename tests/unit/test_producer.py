"""The reliable producer, through a memory transport: acks, losses, timeouts, window, spool."""

from __future__ import annotations

from pathlib import Path

import pytest

from aico.config import Settings, load_settings
from aico.logging.producer import Producer
from aico.logging.transport import MemoryTransport
from aico.schema import normalize, wire
from aico.schema.acks import encode_ack

from support import stamp, wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_settings(tmp_path: Path, **producer: object) -> Settings:
    return load_settings(home=tmp_path, env={}, overrides={"core": {"logging": {"producer": producer}}})


def rec(i: int) -> dict:
    return normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f",
                      "topic": "t", "message": f"m{i}"})


def sent_seqs(t: MemoryTransport) -> list[int]:
    return [wire.decode(p)["seq"] for _, frames in t.sent for p in frames]


def start(settings: Settings, transport: MemoryTransport, clock: Clock | None = None, name: str = "p") -> Producer:
    return Producer(settings, name=name, transport_factory=lambda pid, acks: transport,
                    clock=clock or Clock()).start()


def test_records_are_stamped_sent_and_forgotten_once_acknowledged(tmp_path: Path) -> None:
    """Each record gets the producer id and the next seq; acks empty the window and the spool."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    for i in range(10):
        assert p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 10, message="10 sends")
    assert sent_seqs(t) == list(range(1, 11))
    assert {wire.decode(f)["producer_id"] for _, fr in t.sent for f in fr} == {p.producer_id}
    assert not p.flush(0.05)
    t.ack(encode_ack(p.producer_id, range(1, 11)))
    assert p.flush(5)
    assert p.snapshot()["acknowledged"] == 10
    p.close(1)
    assert not list((tmp_path / "spool" / "p").glob("seg-*.enc"))


def test_a_record_sent_before_an_acknowledged_one_is_resent(tmp_path: Path) -> None:
    """A gap in the acks means loss on the way: the missing records are sent again at once."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path, batch_size=1), t)
    for i in range(5):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 5)
    t.ack(encode_ack(p.producer_id, [1, 2, 4, 5]))  # 3 was lost
    wait_until(lambda: sent_seqs(t).count(3) == 2, message="seq 3 resent")
    copies = [f for _, frames in t.sent for f in frames if wire.decode(f)["seq"] == 3]
    assert copies[0] == copies[1] and wire.decode(copies[1])["message"] == "m2"  # read back from the spool
    t.ack(encode_ack(p.producer_id, [3]))
    assert p.flush(5)
    assert p.snapshot()["resent"] == 1
    p.close(1)


def test_no_ack_for_the_timeout_resends_the_oldest_then_the_rest(tmp_path: Path) -> None:
    """With no acknowledgement for ack_timeout_s, the oldest batch goes again (a probe, as TCP
    does after a timeout, counted in ack_timeouts); once it is acknowledged and nothing more comes
    for another timeout, the rest of the window is known lost and follows."""
    t = MemoryTransport()
    clock = Clock()
    p = start(make_settings(tmp_path, ack_timeout_s=2.0, batch_size=2), t, clock)
    for i in range(5):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 5)
    clock.now += 2.5
    wait_until(lambda: len(sent_seqs(t)) == 7, message="the probe")
    assert sent_seqs(t)[5:] == [1, 2]
    t.ack(encode_ack(p.producer_id, [1, 2]))
    wait_until(lambda: p.snapshot()["acknowledged"] == 2, message="the probe acknowledged")
    assert len(sent_seqs(t)) == 7  # the ack may be the first copies': 3-5 may still be on the way
    clock.now += 20  # beyond the longest backoff
    wait_until(lambda: len(sent_seqs(t)) == 10, message="the rest of the window")
    assert sorted(sent_seqs(t)[7:]) == [3, 4, 5]
    t.ack(encode_ack(p.producer_id, [3, 4, 5]))
    assert p.flush(5)
    assert p.snapshot()["resent"] == 5 and p.snapshot()["ack_timeouts"] == 2
    p.close(0)


def test_a_stalled_store_catching_up_costs_one_probe(tmp_path: Path) -> None:
    """The resend storm under load, through the producer: the store stalls past the timeout, the probe
    goes, then the first copies' acks come in wire order and the probe's last. Only the probe is
    resent (before, the first ack was taken for the probe's and the whole window went again)."""
    t = MemoryTransport()
    clock = Clock()
    p = start(make_settings(tmp_path, ack_timeout_s=2.0, batch_size=2), t, clock)
    for i in range(10):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 10)
    clock.now += 2.5
    wait_until(lambda: len(sent_seqs(t)) == 12, message="the probe")
    for first in range(1, 11, 2):
        t.ack(encode_ack(p.producer_id, [first, first + 1]))
        wait_until(lambda f=first: p.snapshot()["acknowledged"] == f + 1, message=f"the ack of {first}")
    t.ack(encode_ack(p.producer_id, [1, 2]))  # the probe's copy
    assert p.flush(5)
    wait_until(lambda: p.snapshot()["acks_unknown"] == 2, message="the probe's ack counted")
    assert len(sent_seqs(t)) == 12
    assert p.snapshot()["resent"] == 2 and p.snapshot()["ack_timeouts"] == 1
    p.close(0)


@pytest.mark.parametrize("backlog", [0, 7, 100])
def test_window_bounds_what_is_in_flight(tmp_path: Path, backlog: int) -> None:
    """At most `window` records are unacknowledged; the rest waits in the spool, then follows,
    whether it is still held in memory (backlog) or read back from the spool files."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path, window=10, batch_size=5, backlog=backlog), t)
    for i in range(35):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 10)
    assert p.snapshot()["inflight"] == 10
    for first in range(1, 36, 10):
        wait_until(lambda f=first: max(sent_seqs(t)) >= min(f + 9, 35), message=f"window from {first}")
        t.ack(encode_ack(p.producer_id, range(first, first + 10)))
    assert p.flush(5)
    assert sent_seqs(t) == list(range(1, 36))
    p.close(1)


def test_unacknowledged_records_survive_a_restart(tmp_path: Path) -> None:
    """What was never acknowledged is sent again by the next producer on the same spool."""
    settings = make_settings(tmp_path)
    t1 = MemoryTransport()
    p1 = start(settings, t1)
    for i in range(20):
        p1.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t1)) == 20)
    t1.ack(encode_ack(p1.producer_id, range(1, 6)))
    wait_until(lambda: p1.snapshot()["acknowledged"] == 5)
    p1.close(0)

    t2 = MemoryTransport()
    p2 = start(settings, t2)
    assert p2.producer_id == p1.producer_id
    wait_until(lambda: len(sent_seqs(t2)) == 15, message="the 15 unacknowledged resent")
    assert sent_seqs(t2) == list(range(6, 21))
    p2.offer(rec(99))
    wait_until(lambda: 21 in sent_seqs(t2), message="new records continue the sequence")
    p2.close(0)


def test_a_second_live_producer_gets_its_own_spool(tmp_path: Path) -> None:
    """Two live processes never share a spool: the second takes the next slot."""
    settings = make_settings(tmp_path)
    a = start(settings, MemoryTransport(), name="same")
    b = start(settings, MemoryTransport(), name="same")
    assert a.producer_id != b.producer_id
    assert a.spool is not None and b.spool is not None and a.spool.dir != b.spool.dir
    a.close(0)
    b.close(0)


def test_full_spool_drops_oldest_and_says_so(tmp_path: Path) -> None:
    """Past the spool bound the oldest records go, counted, and a drop notice is sent."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path, spool_max_mb=0.02, spool_segment_mb=0.004, window=100000), t)
    for i in range(600):
        p.offer(rec(i))
    wait_until(lambda: p.snapshot()["dropped"].get("spool_full", 0) > 0, message="a spool_full drop")
    notices = wait_until(lambda: [wire.decode(f) for _, fr in t.sent for f in fr
                                  if b"spool full" in f], message="the drop notice sent")
    dropped = p.snapshot()["dropped"]["spool_full"]
    assert notices[0]["message"].endswith("records dropped by p: spool full")
    assert int(notices[0]["message"].split()[0]) <= dropped
    assert p.spool is not None and p.spool.size <= p.spool.max_bytes + 4096
    p.close(0)


def test_offer_many_is_all_or_nothing_and_drops_are_counted(tmp_path: Path) -> None:
    """A batch over the queue bound is refused whole; single offers over it are counted drops."""
    p = Producer(make_settings(tmp_path, queue_size=5), name="q", transport_factory=lambda *_: MemoryTransport())
    assert not p.offer_many([rec(i) for i in range(6)])
    assert p.offer_many([rec(i) for i in range(5)])
    assert not p.offer(rec(6))
    assert p.snapshot()["dropped"] == {"queue_full": 1}
    p.close(0)


@pytest.mark.parametrize("reliable", [True, False])
def test_fire_and_forget_mode_sends_without_spool(tmp_path: Path, reliable: bool) -> None:
    """reliable=false sends without spool or acks (the benchmark's comparison mode)."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path, reliable=reliable), t)
    for i in range(10):
        p.offer(rec(i))
    wait_until(lambda: len(sent_seqs(t)) == 10)
    if not reliable:
        assert p.flush(1) and p.spool is None
    p.close(0)


@pytest.mark.parametrize("reliable", [True, False])
def test_a_bus_message_carries_consecutive_seqs_and_a_topic_keeps_its_order(tmp_path: Path,
                                                                            reliable: bool) -> None:
    """Records are grouped by topic before they are numbered, so one message (one topic) is one
    range of seqs and the acknowledgement of a batch is a few ranges, not one per record."""
    t = MemoryTransport()
    p = Producer(make_settings(tmp_path, reliable=reliable), name="p", transport_factory=lambda pid, acks: t)
    for i in range(12):
        p.offer({**rec(i), "module": f"mod{i % 3}"})  # three topics, interleaved
    p.start()
    wait_until(lambda: len(sent_seqs(t)) == 12)
    for topic, frames in t.sent:
        entries = [wire.decode(f) for f in frames]
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), topic
        assert [e["message"] for e in entries] == sorted((e["message"] for e in entries), key=lambda m: int(m[1:]))
    assert sorted(sent_seqs(t)) == list(range(1, 13)) and len(t.sent) == 3
    p.close(0)
