"""The reliable producer's window: records sent and not yet acknowledged, and which were lost.

Each record in the window has its seq (its place in the spool) and a send number, given
each time it goes on the wire, in wire order. The collector acknowledges what it stored; a
record sent before one that was acknowledged, and not acknowledged itself, was lost on the
way (the bus keeps order), so it goes again at once. With no acknowledgement at all for a
while (the bus or the collector was away, or the store is stalled), only the oldest batch
goes again, as a probe, backing off, as TCP does after a retransmission timeout: the probe's
acknowledgement marks everything sent before it as lost, and that then follows at once.
Resending the whole window each time would pile copies of it up in the backend's queues.

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from itertools import islice

MAX_BACKOFF_S = 15.0

Item = tuple[int, bytes, bytes]  # seq, topic, payload


class Window:
    def __init__(self, *, limit: int, ack_timeout_s: float, probe_size: int, now: float) -> None:
        self.limit = limit
        self.ack_timeout_s = ack_timeout_s
        self.probe_size = probe_size
        # seq -> (topic, payload, send number; 0: not on the wire yet). Kept in seq order: records
        # enter in seq order and a send updates its entry in place, so the first key is the lowest.
        self._items: OrderedDict[int, tuple[bytes, bytes, int]] = OrderedDict()
        self._sent_order: deque[tuple[int, int]] = deque()  # (send number, seq), in wire order
        self._send_no = 0
        self._lost_before = 0  # send number: anything sent before it and unacknowledged was lost
        self._ack_gap = 0.0  # smoothed seconds between acknowledgements that brought progress
        self.last_progress = now
        self.backoff = ack_timeout_s

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, seq: int) -> bool:
        return seq in self._items

    def room(self) -> int:
        return self.limit - len(self._items)

    def lowest(self) -> int | None:
        """The lowest seq still unacknowledged, if any."""
        return next(iter(self._items)) if self._items else None

    def hold(self, items: list[Item], now: float) -> None:
        """Take ``items`` (in seq order, after everything held) before they go on the wire."""
        if not self._items:
            self.last_progress = now  # the ack timeout counts from the first record held
        for seq, topic, payload in items:
            self._items[seq] = (topic, payload, 0)

    def sent(self, items: list[Item]) -> None:
        """``items`` went on the wire, in this order."""
        for seq, topic, payload in items:
            self._send_no += 1
            self._items[seq] = (topic, payload, self._send_no)
            self._sent_order.append((self._send_no, seq))

    def acknowledged(self, seqs: Iterable[int], now: float) -> int:
        """Forget the acknowledged ``seqs``; how many of them were in the window."""
        acked = 0
        newest_send = 0
        for seq in seqs:
            item = self._items.pop(seq, None)
            if item is not None:
                acked += 1
                newest_send = max(newest_send, item[2])
        if acked:
            # Like TCP's retransmission timer: never probe sooner than a few of the gaps seen
            # between acknowledgements, so a slow (not lost) collector is not flooded.
            gap = now - self.last_progress
            self._ack_gap = gap if self._ack_gap == 0 else 0.8 * self._ack_gap + 0.2 * gap
            self.last_progress = now
            self.backoff = max(self.ack_timeout_s, min(4 * self._ack_gap, MAX_BACKOFF_S))
            self._lost_before = newest_send
        return acked

    def lost(self, now: float, *, can_send: bool) -> list[Item]:
        """What to send again now: the records lost on the way, or a probe after the timeout."""
        lost: list[Item] = []
        order = self._sent_order
        while order and order[0][0] < self._lost_before:
            send_no, seq = order.popleft()
            item = self._items.get(seq)
            if item is not None and item[2] == send_no:  # not acknowledged, and not sent again since
                lost.append((seq, item[0], item[1]))
        if not lost and self._items and can_send and now - self.last_progress > self.backoff:
            lost = [(seq, t, p) for seq, (t, p, _) in islice(self._items.items(), self.probe_size)]
            self.last_progress = now
            self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
        return lost

    def forget_below(self, floor: int) -> list[int]:
        """Drop every record with a seq below ``floor`` (its spool segment is gone); their seqs."""
        gone = [seq for seq in self._items if seq < floor]
        for seq in gone:
            del self._items[seq]
        return gone
