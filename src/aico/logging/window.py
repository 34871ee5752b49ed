"""The reliable producer's window: which records are sent and not yet acknowledged, and which were lost.

The window holds seqs only, not the records: they are in the spool (and, until first sent,
in the producer's backlog), and a resend reads them back from there. A burst thus holds no
second copy of each record in memory while it waits for acknowledgements.

Each bus message gets a message number, in wire order, and each record in the window the
number of the message that last carried it (0: not on the wire yet). The collector
acknowledges what it stored; a record sent in a message before one that carried an
acknowledged record, and not acknowledged itself, was lost on the way (the bus keeps
order), so it goes again at once. With no acknowledgement at all for a while (the bus or
the collector was away, or the store is stalled), only the oldest batch goes again, as a
probe, backing off, as TCP does after a retransmission timeout: the probe's acknowledgement
marks everything sent before it as lost, and that then follows at once. Resending the whole
window each time would pile copies of it up in the backend's queues.

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import compress, islice, repeat
from operator import eq, is_not

MAX_BACKOFF_S = 15.0

_held = partial(is_not, None)  # what dict.pop(seq, None) gave back for a seq in the window


class Window:
    def __init__(self, *, limit: int, ack_timeout_s: float, probe_size: int, now: float) -> None:
        self.limit = limit
        self.ack_timeout_s = ack_timeout_s
        self.probe_size = probe_size
        # seq -> number of the message that last carried it (0: not on the wire yet). Records
        # enter in seq order and a send updates an entry in place, so iteration is in seq order.
        self._items: dict[int, int] = {}
        self._low = 0  # no seq below it is in the window
        self._messages: deque[tuple[int, list[int]]] = deque()  # (message number, its seqs), wire order
        self._message_no = 0
        self._lost_before = 0  # message number: what went before it and is unacknowledged was lost
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
        items = self._items
        if not items:
            return None
        while self._low not in items:  # acknowledgements come mostly in order: amortized O(1)
            self._low += 1
        return self._low

    def hold(self, seqs: Sequence[int], now: float) -> None:
        """Take ``seqs`` (ascending, above everything held) before they go on the wire."""
        if not seqs:
            return
        if not self._items:
            self.last_progress = now  # the ack timeout counts from the first record held
            self._low = seqs[0]
        self._items.update(zip(seqs, repeat(0)))

    def sent(self, seqs: list[int]) -> None:
        """One bus message carrying ``seqs`` went on the wire."""
        self._message_no += 1
        self._items.update(zip(seqs, repeat(self._message_no)))
        self._messages.append((self._message_no, seqs))

    def acknowledged(self, spans: Iterable[tuple[int, int]], now: float) -> int:
        """Forget the acknowledged seqs (inclusive ``(first, last)`` spans); how many were held."""
        acked = 0
        newest = 0
        pop = self._items.pop
        for first, last in spans:
            got: list[int] = list(filter(_held, map(pop, range(first, last + 1), repeat(None))))  # type: ignore[arg-type]  # C speed
            if got:
                acked += len(got)
                newest = max(newest, max(got))
        if acked:
            # Like TCP's retransmission timer: never probe sooner than a few of the gaps seen
            # between acknowledgements, so a slow (not lost) collector is not flooded.
            gap = now - self.last_progress
            self._ack_gap = gap if self._ack_gap == 0 else 0.8 * self._ack_gap + 0.2 * gap
            self.last_progress = now
            self.backoff = max(self.ack_timeout_s, min(4 * self._ack_gap, MAX_BACKOFF_S))
            self._lost_before = max(self._lost_before, newest)
        return acked

    def lost(self, now: float, *, can_send: bool) -> list[int]:
        """The seqs to send again now: those lost on the way, or a probe after the timeout."""
        lost: list[int] = []
        messages, items = self._messages, self._items
        while messages and messages[0][0] < self._lost_before:
            number, seqs = messages.popleft()
            # Not acknowledged, and not sent again since (a later message would carry it).
            lost.extend(compress(seqs, map(eq, map(items.get, seqs), repeat(number))))
        if lost:
            lost.sort()
        elif items and can_send and now - self.last_progress > self.backoff:
            lost = list(islice(items, self.probe_size))
            self.last_progress = now
            self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
        return lost

    def forget_below(self, floor: int) -> list[int]:
        """Drop every record with a seq below ``floor`` (its spool segment is gone); their seqs."""
        gone = [seq for seq in self._items if seq < floor]
        for seq in gone:
            del self._items[seq]
        return gone
