"""The reliable producer's window on its own: loss detection, the probe after a timeout, bounds."""

from __future__ import annotations

from aico.logging.window import Window


def window(limit: int = 10) -> Window:
    return Window(limit=limit, ack_timeout_s=2.0, probe_size=2, now=0.0)


def test_a_record_sent_in_a_message_before_an_acknowledged_one_is_lost() -> None:
    """An unacknowledged record sent before an acknowledged one is reported lost once; a resend clears it."""
    w = window()
    w.hold([1, 2, 3, 4, 5], 0.0)
    w.sent([1, 2])
    w.sent([3])
    w.sent([4, 5])
    assert w.room() == 5 and w.lowest() == 1
    assert w.acknowledged([(2, 2), (4, 4)], 0.1) == 2
    assert w.lost(0.1, can_send=True) == [1, 3]  # 5 came in the same message as 4: not lost
    assert w.lost(0.1, can_send=True) == []  # reported once: the caller sends them again
    w.sent([1, 3])  # the resend is a newer message: no longer lost through the old ack
    assert w.acknowledged([(5, 5), (99, 99)], 0.2) == 1  # 99 was never in the window
    assert w.lost(0.2, can_send=True) == []
    assert w.acknowledged([(1, 3)], 0.3) == 2 and len(w) == 0 and w.lowest() is None


def test_a_record_sent_again_is_lost_only_through_its_newest_message() -> None:
    """A record sent twice is judged lost by its newest message only, and reported once."""
    w = window()
    w.hold([1, 2, 3], 0.0)
    w.sent([1, 2])
    w.sent([1])  # 1 sent again (a probe) before anything was acknowledged
    w.sent([3])
    assert w.acknowledged([(2, 2)], 0.1) == 1
    assert w.lost(0.1, can_send=True) == []  # the ack names the first message: nothing before it
    assert w.acknowledged([(3, 3)], 0.2) == 1
    assert w.lost(0.2, can_send=True) == [1]  # once, through message 2, not again through message 1


def test_no_acknowledgement_sends_a_probe_then_backs_off() -> None:
    """No ack for the timeout probes the oldest batch and doubles the wait; once the probe is acknowledged
    and nothing more comes for another timeout, what was sent before it is lost and goes again at once."""
    w = window()
    w.hold([1, 2, 3], 0.0)
    w.sent([1, 2, 3])
    assert w.lost(1.9, can_send=True) == []
    assert w.lost(2.5, can_send=False) == []  # no subscriber: nothing would arrive
    assert w.lost(2.5, can_send=True) == [1, 2]
    assert w.backoff == 4.0
    assert w.lost(6.0, can_send=True) == []
    w.sent([1, 2])
    assert w.acknowledged([(1, 2)], 6.1) == 2
    assert w.lost(6.1, can_send=True) == []  # maybe the first copies' ack: 3 may still arrive after it
    later = 6.1 + w.backoff + 0.1
    assert w.lost(later, can_send=True) == [3]  # nothing came: the first copies were lost with 3
    assert w.timeouts == 2


def _stalled_window() -> Window:
    """Ten records in five messages of two (numbers 1-5), then the store stalls: the probe (message 6)."""
    w = Window(limit=100, ack_timeout_s=2.0, probe_size=2, now=0.0)
    w.hold(list(range(1, 11)), 0.0)
    for first in range(1, 11, 2):
        w.sent([first, first + 1])
    assert w.lost(2.5, can_send=True) == [1, 2]  # the probe
    w.sent([1, 2])
    return w


def test_a_stalled_store_catching_up_costs_the_probe_only() -> None:
    """The storm under load: the store stalls, the probe goes, then the first copies' acks come in wire
    order and the probe's last. Taking the first ack for the probe's marked the whole window lost;
    now nothing is resent but the probe, also with new records sent after the probe."""
    w = _stalled_window()
    w.hold([11, 12], 2.6)
    w.sent([11, 12])  # message 7, after the probe
    resent: list[int] = []
    now = 3.0
    for first in range(1, 11, 2):  # the first copies, in the order they were sent
        assert w.acknowledged([(first, first + 1)], now) == 2
        resent += w.lost(now, can_send=True)
        now += 0.1
    assert w.acknowledged([(1, 2)], now) == 0  # the probe's copy: a duplicate in the store
    assert w.acknowledged([(11, 12)], now) == 2
    resent += w.lost(now, can_send=True)
    assert resent == [] and len(w) == 0 and w.timeouts == 1


def test_a_message_lost_after_the_probe_is_still_resent_at_once() -> None:
    """A real gap while the store catches up: message 2 (records 3, 4) never arrives, message 3's ack
    shows it lost, and it goes again at once, not after a timeout; nothing else does."""
    w = _stalled_window()
    assert w.acknowledged([(1, 2)], 3.0) == 2
    assert w.lost(3.0, can_send=True) == []
    assert w.acknowledged([(5, 6)], 3.1) == 2
    assert w.lost(3.1, can_send=True) == [3, 4]
    w.sent([3, 4])
    assert w.acknowledged([(7, 10)], 3.2) == 4
    assert w.lost(3.2, can_send=True) == []
    assert w.acknowledged([(3, 4)], 3.3) == 2 and len(w) == 0


def test_a_probed_message_that_was_lost_is_not_sent_a_third_time() -> None:
    """The probed batch's first copy was lost: the later messages' acks show it, but the probe's copy is
    still on the way, so it is not resent; if the probe is lost too, its own successor's ack shows it."""
    w = _stalled_window()
    assert w.acknowledged([(3, 10)], 3.0) == 8  # messages 2-5: message 1 never arrived
    assert w.lost(3.0, can_send=True) == []  # 1 and 2 are in the probe (message 6)
    w.hold([11], 3.1)
    w.sent([11])  # message 7
    assert w.acknowledged([(11, 11)], 3.2) == 1  # the probe did not arrive either
    assert w.lost(3.2, can_send=True) == [1, 2]


def test_after_an_outage_the_acknowledged_probe_brings_the_rest_back() -> None:
    """The bus was away: every message lost. The probe is acknowledged, nothing else comes; at the next
    timeout everything sent before the probe goes again at once, not one batch per timeout."""
    w = _stalled_window()
    assert w.acknowledged([(1, 2)], 3.0) == 2
    assert w.lost(3.0, can_send=True) == []
    assert w.lost(3.0 + w.backoff + 0.1, can_send=True) == [3, 4, 5, 6, 7, 8, 9, 10]


def test_the_lowest_seq_follows_acknowledgements_in_any_order() -> None:
    """The lowest unacknowledged seq is right whatever order the acknowledgements come in."""
    w = window(limit=1000)
    w.hold(list(range(10, 510)), 0.0)
    w.sent(list(range(10, 510)))
    assert w.acknowledged([(12, 400)], 0.1) == 389 and w.lowest() == 10
    assert w.acknowledged([(10, 10)], 0.2) == 1 and w.lowest() == 11
    assert w.acknowledged([(11, 11), (401, 508)], 0.3) == 109 and w.lowest() == 509
    assert len(w) == 1 and w.room() == 999


def test_forget_below_drops_what_the_spool_lost() -> None:
    """forget_below drops and returns the held seqs below the floor (records the spool dropped)."""
    w = window()
    w.hold([5, 6, 7], 0.0)
    assert w.forget_below(7) == [5, 6]
    assert 7 in w and 5 not in w and w.lowest() == 7


def test_a_long_stream_keeps_the_arrays_small_and_the_answers_right() -> None:
    """Past the compaction point the acknowledged prefix is dropped; seqs keep their meaning."""
    w = window(limit=1_000_000)
    for first in range(1, 300_001, 2000):
        seqs = list(range(first, first + 2000))
        w.hold(seqs, 0.0)
        for topic in range(8):  # one message per topic, as the producer sends them
            w.sent(seqs[topic::8])
    assert len(w) == 300_000
    assert w.acknowledged([(1, 250_000)], 0.1) == 250_000
    assert w.lowest() == 250_001 and len(w._held) <= 100_000  # compacted
    assert 250_000 not in w and 250_001 in w and 299_999 in w
    assert w.acknowledged([(1, 250_010)], 0.2) == 10  # a span reaching below the arrays
    assert w.acknowledged([(250_012, 300_000)], 0.3) == 49_989
    assert w.lost(0.3, can_send=True) == [250_011]
    assert len(w) == 1 and w.lowest() == 250_011


def test_seqs_with_gaps_and_a_window_that_empties() -> None:
    """Seqs with gaps are held and acknowledged right, and a window that empties starts again from the next seqs."""
    w = window(limit=100)
    w.hold([3, 5, 9], 0.0)  # not consecutive (the spool dropped records in between)
    w.sent([3, 5, 9])
    assert len(w) == 3 and 4 not in w and w.lowest() == 3
    assert w.acknowledged([(1, 20)], 0.1) == 3 and len(w) == 0 and w.lowest() is None
    w.hold([21, 22], 0.2)  # an empty window starts again from the next seqs
    w.sent([21])
    w.sent([22])
    assert w.acknowledged([(22, 22)], 0.3) == 1
    assert w.lost(0.3, can_send=True) == [21]
    assert w.forget_below(30) == [21] and len(w) == 0


def test_a_store_stalled_twice_after_the_probe_sends_one_copy_more_not_a_storm() -> None:
    """The probe's ack came from the first copy and the store stalled again: at the next timeout the
    rest goes again once, as probes; the late acks of the first copies then mark nothing lost."""
    w = _stalled_window()
    w.hold([11, 12], 2.6)
    w.sent([11, 12])  # message 7, after the probe
    assert w.acknowledged([(1, 2)], 3.0) == 2  # the first copy of message 1
    resent = w.lost(3.0 + w.backoff + 0.1, can_send=True)
    assert resent == [3, 4, 5, 6, 7, 8, 9, 10]  # not 11, 12: sent after the probe
    for first in range(3, 11, 2):
        w.sent([first, first + 1])
    now = 20.0
    for first in range(3, 11, 2):  # the first copies, late: not taken for the copies sent after 11, 12
        assert w.acknowledged([(first, first + 1)], now) == 2
        assert w.lost(now, can_send=True) == []
        now += 0.1
    assert w.acknowledged([(11, 12)], now) == 2
    assert w.acknowledged([(3, 10)], now) == 0 and len(w) == 0  # the copies: duplicates


def test_copies_sent_after_an_outage_and_lost_again_go_once_more() -> None:
    """After an outage the rest went again as probes and some of those were lost too: another
    timeout with the last of them acknowledged sends what is still missing."""
    w = _stalled_window()
    assert w.acknowledged([(1, 2)], 3.0) == 2
    resent = w.lost(3.0 + w.backoff + 0.1, can_send=True)
    w.sent(resent[:4])  # records 3-6
    w.sent(resent[4:])  # records 7-10
    assert w.acknowledged([(7, 10)], 20.0) == 4  # 3-6 lost again
    assert w.lost(20.0, can_send=True) == []
    assert w.lost(20.0 + w.backoff + 0.1, can_send=True) == [3, 4, 5, 6]
