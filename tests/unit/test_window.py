"""The reliable producer's window on its own: loss detection, the probe after a timeout, bounds."""

from __future__ import annotations

from aico.logging.window import Window


def items(*seqs: int) -> list[tuple[int, bytes, bytes]]:
    return [(s, b"logs.t", f"p{s}".encode()) for s in seqs]


def test_a_record_sent_before_an_acknowledged_one_is_lost() -> None:
    w = Window(limit=10, ack_timeout_s=2.0, probe_size=2, now=0.0)
    w.hold(items(1, 2, 3, 4), 0.0)
    w.sent(items(1, 2, 3, 4))
    assert w.room() == 6 and w.lowest() == 1
    assert w.acknowledged([3], 0.1) == 1
    assert w.lost(0.1, can_send=True) == items(1, 2)
    assert w.lost(0.1, can_send=True) == []  # reported once: the caller sends them again
    w.sent(items(1, 2))  # the resend gets newer send numbers: no longer lost through the old ack
    assert w.acknowledged([4, 99], 0.2) == 1  # 99 was never in the window
    assert w.lost(0.2, can_send=True) == []
    assert w.acknowledged([1, 2], 0.3) == 2 and len(w) == 0 and w.lowest() is None


def test_no_acknowledgement_sends_a_probe_then_backs_off() -> None:
    w = Window(limit=10, ack_timeout_s=2.0, probe_size=2, now=0.0)
    w.hold(items(1, 2, 3), 0.0)
    w.sent(items(1, 2, 3))
    assert w.lost(1.9, can_send=True) == []
    assert w.lost(2.5, can_send=False) == []  # no subscriber: nothing would arrive
    assert w.lost(2.5, can_send=True) == items(1, 2)
    assert w.backoff == 4.0
    assert w.lost(6.0, can_send=True) == []
    w.sent(items(1, 2))
    assert w.acknowledged([1, 2], 6.1) == 2
    assert w.lost(6.1, can_send=True) == items(3)  # sent before the probe, not acknowledged: lost


def test_forget_below_drops_what_the_spool_lost() -> None:
    w = Window(limit=10, ack_timeout_s=2.0, probe_size=2, now=0.0)
    w.hold(items(5, 6, 7), 0.0)
    assert w.forget_below(7) == [5, 6]
    assert 7 in w and 5 not in w and w.lowest() == 7
