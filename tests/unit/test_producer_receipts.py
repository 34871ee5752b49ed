"""Receipts: a batch handed to a producer is reported durable only once it survives a SIGKILL of the process."""

from __future__ import annotations

from pathlib import Path

from aico.config import Settings, load_settings
from aico.logging.producer import Producer
from aico.logging.receipts import LOST, ON_DISK, Receipts
from aico.logging.spool_cipher import spool_cipher
from aico.logging.transport import MemoryTransport
from aico.schema import normalize, wire
from aico.schema.acks import encode_ack

from support import stamp, wait_until

PREFIX = "frontend:"


def rec(i: int) -> dict:
    record = normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f", "topic": "t",
                        "message": f"durable {i}"})
    record["producer_id"], record["seq"] = PREFIX + "tab", i
    return record


def settings_at(home: Path) -> Settings:
    return load_settings(home=home, env={})


def relay(settings: Settings, t: MemoryTransport) -> Producer:
    return Producer(settings, name="bridge", transport_factory=lambda pid, acks: t, relay_prefix=PREFIX)


def spooled_bytes(home: Path) -> bytes:
    """The records in the spool files, opened with the spool key (the files are sealed)."""
    cipher = spool_cipher(settings_at(home))
    return b"".join(item.payload for path in sorted((home / "spool" / "bridge").glob("seg-*.enc"))
                    for item in cipher.walk(path.read_bytes(), final=True)[0] if item.ok)


def test_a_receipt_is_true_only_once_the_batch_is_in_the_spool_file(tmp_path: Path) -> None:
    """Not before the sender wrote the batch to the spool file; then True, with every record in the file."""
    p = relay(settings_at(tmp_path), MemoryTransport())
    receipt = p.offer_durable([rec(i) for i in range(1, 301)])
    assert receipt is not None and not receipt.done()  # the sender is not running: only queued
    p.start()
    assert receipt.result(timeout=10) is True
    data = spooled_bytes(tmp_path)
    assert all(f"durable {i}".encode() in data for i in range(1, 301))
    p.close(0)


def test_with_a_memory_only_spool_a_receipt_waits_for_the_store(tmp_path: Path) -> None:
    """Records the spool holds in memory (its disk refused) are durable only once the store acknowledged them."""
    (tmp_path / "spool").write_text("a file where the spool folder should be")  # the spool cannot be made
    t = MemoryTransport()
    p = relay(settings_at(tmp_path), t).start()
    assert p.snapshot()["spool_memory_only"]
    receipt = p.offer_durable([rec(i) for i in range(1, 6)])
    assert receipt is not None
    wait_until(lambda: sum(len(frames) for _, frames in t.sent) == 5, message="5 records sent")
    assert not receipt.done()  # sent, held in memory: a SIGKILL now would lose them
    t.ack(encode_ack(PREFIX + "tab", range(1, 6)))
    assert receipt.result(timeout=10) is True
    assert [wire.decode(f)["seq"] for _, frames in t.sent for f in frames] == [1, 2, 3, 4, 5]
    p.close(0)


def test_receipts_still_waiting_when_the_sender_stops_are_false(tmp_path: Path) -> None:
    """A sender that stops settles every receipt it still holds False: the client sends those again."""
    (tmp_path / "spool").write_text("no spool folder")
    p = relay(settings_at(tmp_path), MemoryTransport()).start()
    receipt = p.offer_durable([rec(1)])
    assert receipt is not None
    wait_until(lambda: p.snapshot()["queued"] == 0, message="taken from the queue")
    p.close(0)
    assert receipt.result(timeout=10) is False


def test_a_batch_split_across_drains_takes_the_worse_outcome() -> None:
    """A batch whose records left the queue in two drains is durable only if both drains were."""
    receipts = Receipts()
    a, b = [rec(i) for i in range(3)], [rec(i) for i in range(3, 7)]
    fa, fb = receipts.expect(a), receipts.expect(b)
    receipts.taken(a + b[:2], ON_DISK)
    assert fa.result(0) is True and not fb.done()
    receipts.taken(b[2:], LOST)
    assert fb.result(0) is False and len(receipts) == 0


def test_held_receipts_settle_with_the_watermark_or_fail_when_a_bound_drops_them() -> None:
    """Held in memory: True once the watermark passes the last seq; False when a bound drops any of them."""
    receipts = Receipts()
    kept, dropped = [rec(1)], [rec(2)]
    fk, fd = receipts.expect(kept), receipts.expect(dropped)
    receipts.taken(dropped, (5, 9))
    receipts.taken(kept, (10, 12))
    receipts.settle(9)  # seq 9 not yet stored
    assert not fk.done() and not fd.done()
    receipts.dropped(7)
    assert fd.result(0) is False and not fk.done()
    receipts.settle(13)
    assert fk.result(0) is True
