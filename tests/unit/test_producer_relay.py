"""The producer in relay mode (the frontend bridge): records keep the stamp they came with."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aico.config import Settings, load_settings
from aico.logging.producer import Producer
from aico.logging.transport import MemoryTransport
from aico.schema import normalize, wire
from aico.schema.acks import encode_ack

from support import stamp, wait_until

PREFIX = "frontend:"


def make_settings(tmp_path: Path, **producer: object) -> Settings:
    return load_settings(home=tmp_path, env={}, overrides={"core": {"logging": {"producer": producer}}})


def rec(i: int, pid: str | None = "tab1", seq: int | None = None) -> dict:
    record = normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f",
                        "topic": "t", "message": f"m{i}"})
    if pid is not None:
        record["producer_id"], record["seq"] = PREFIX + pid, i if seq is None else seq
    return record


def sent(t: MemoryTransport) -> list[tuple[str, int, str]]:
    return [(r["producer_id"], r["seq"], r["message"]) for _, frames in t.sent for r in map(wire.decode, frames)]


def start(settings: Settings, t: MemoryTransport, name: str = "bridge") -> Producer:
    return Producer(settings, name=name, transport_factory=lambda pid, acks: t, relay_prefix=PREFIX).start()


def test_relayed_records_keep_their_stamp_and_are_released_by_acks_under_it(tmp_path: Path) -> None:
    """The wire carries the client's (producer id, seq); acks under that stamp empty the window and spool."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    assert p.offer_many([rec(i) for i in range(1, 6)])
    wait_until(lambda: len(sent(t)) == 5, message="5 sends")
    assert sent(t) == [(PREFIX + "tab1", i, f"m{i}") for i in range(1, 6)]
    t.ack(encode_ack(p.producer_id, range(1, 6)))  # the relay's own id: not how relayed records are acked
    t.ack(encode_ack("other:tab1", range(1, 6)))  # outside the prefix: not ours
    assert not p.flush(0.1)
    t.ack(encode_ack(PREFIX + "tab1", range(1, 6)))
    assert p.flush(5)
    assert p.snapshot()["acknowledged"] == 5
    p.close(1)
    assert not list((tmp_path / "spool" / "bridge").glob("seg-*.enc"))


def test_one_ack_releases_every_copy_of_a_stamp_sent_again(tmp_path: Path) -> None:
    """A client that re-sends a record before the first copy is stored: one ack releases both copies."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    p.offer(rec(1))
    p.offer(rec(1))
    wait_until(lambda: len(sent(t)) == 2, message="both copies sent")
    assert sent(t) == [(PREFIX + "tab1", 1, "m1")] * 2
    t.ack(encode_ack(PREFIX + "tab1", [1]))
    assert p.flush(5)
    assert p.snapshot()["acknowledged"] == 2
    p.close(1)


def test_unstamped_records_get_the_relay_id_and_distinct_clock_seqs(tmp_path: Path) -> None:
    """A record with no stamp of its own is stamped by the relay (its id under the prefix, rising seqs)."""
    t = MemoryTransport()
    p = start(make_settings(tmp_path), t)
    p.offer_many([rec(i, pid=None) for i in range(3)])
    wait_until(lambda: len(sent(t)) == 3, message="3 sends")
    stamps = [(pid, seq) for pid, seq, _ in sent(t)]
    assert {pid for pid, _ in stamps} == {f"{PREFIX}{p.producer_id}.{p.delivery.stamps.run}"}
    seqs = [seq for _, seq in stamps]
    assert seqs == sorted(set(seqs)) and seqs[0] > 10**15  # microseconds since the epoch
    t.ack(encode_ack(f"{PREFIX}{p.producer_id}.{p.delivery.stamps.run}", seqs))
    assert p.flush(5)
    p.close(1)


def test_a_relay_started_again_after_the_clock_stepped_back_never_reuses_a_stamp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unstamped records after a restart with the wall clock stepped back (here: to the very reading of the
    last run) get stamps no earlier record had: the store keeps one copy per stamp, so a stamp used again
    would drop the new record as a duplicate."""
    settings = make_settings(tmp_path)
    now = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now)
    stamps: set[tuple[str, int]] = set()
    for run in range(2):
        t = MemoryTransport()
        p = start(settings, t)
        p.offer_many([rec(10 * run + i, pid=None) for i in range(3)])
        def new_stamps(t: MemoryTransport = t, run: int = run) -> set[tuple[str, int]]:
            return {(pid, seq) for pid, seq, m in sent(t) if int(m[1:]) >= 10 * run}

        wait_until(lambda: len(new_stamps()) == 3, message=f"run {run}: its 3 records sent")
        new = new_stamps()
        assert len(new) == 3 and not new & stamps, f"run {run} reused a stamp: {sorted(new & stamps)}"
        stamps |= new
        p.close(0)


def test_relayed_records_are_sent_again_after_a_restart_with_the_same_stamps(tmp_path: Path) -> None:
    """What the relay never saw acknowledged is read back from its spool and acked under the original stamp."""
    settings = make_settings(tmp_path)
    t1 = MemoryTransport()
    p1 = start(settings, t1)
    p1.offer_many([rec(i, seq=100 + i) for i in range(4)])
    wait_until(lambda: len(sent(t1)) == 4, message="first sends")
    t1.ack(encode_ack(PREFIX + "tab1", [100, 101]))
    wait_until(lambda: p1.snapshot()["acknowledged"] == 2, message="two acked")
    p1.close(0)
    t2 = MemoryTransport()
    p2 = start(settings, t2)
    wait_until(lambda: len(sent(t2)) == 2, message="the unacknowledged two sent again")
    assert sent(t2) == [(PREFIX + "tab1", 102, "m2"), (PREFIX + "tab1", 103, "m3")]
    t2.ack(encode_ack(PREFIX + "tab1", [102, 103]))
    assert p2.flush(5)
    p2.close(0)
