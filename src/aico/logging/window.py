"""The reliable producer's window: which records are sent and not yet acknowledged, and which were lost.

The window holds seqs only, not the records: they are in the spool (and, until first sent,
in the producer's backlog), and a resend reads them back from there. A burst thus holds no
second copy of each record in memory while it waits for acknowledgements.

Each bus message gets a message number, in wire order, and each record in the window the
number of the oldest message whose copy of it may still arrive (0: not on the wire yet). The
collector acknowledges what it stored; a record sent in a message before the one that
carried an acknowledged record, and not acknowledged itself, was lost on the way (the bus
keeps order), so it goes again at once.

With no acknowledgement at all for a while (the bus or the collector was away, or the store
is stalled), only the oldest batch goes again, as a probe, backing off, as TCP does after a
retransmission timeout. Resending the whole window each time would pile copies of it up in
the backend's queues. An acknowledgement names seqs, not messages, so one for a probed
record may be for its first copy (a stalled store catching up, in wire order) or for the
probe's (the first copy was lost). It is taken for the first copy, which is always true of
"sent before": taken for the probe's, it marked every message between the two lost while
they still waited in the backend's queue, and the whole window went again, and again as
each late acknowledgement of a first copy was taken for its newest copy (a run under load
resent 6 copies of each record). So the probe's copy is kept aside (``_probe_copies``): it
is not resent while it may still arrive, and becomes the record's oldest copy once the
first one is known lost. If the probe was acknowledged and then nothing more for another
timeout, the first copies are taken as lost after all (the bus was away), and everything
sent before the probe and not acknowledged goes again at once, as probes too, so that late
acknowledgements of first copies, if the store was only stalled again, mark nothing lost.

The window is two flat arrays indexed by seq (from ``_base``): a byte per record (1: held,
unacknowledged) and the number of the message with its oldest copy. Acknowledgements are
seq ranges, so taking one is a slice count and a slice fill, and the arrays stay small
enough for the CPU's cache (9 bytes per record, against ~70 for a dict entry and its keys).

Nothing here logs: this is logging infrastructure.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Iterable, Sequence

MAX_BACKOFF_S = 15.0
_COMPACT_AT = 1 << 16  # drop the acknowledged prefix of the arrays once it is this long
_SHORT_SPAN = 16


class Window:
    def __init__(self, *, limit: int, ack_timeout_s: float, probe_size: int, now: float) -> None:
        self.limit = limit
        self.ack_timeout_s = ack_timeout_s
        self.probe_size = probe_size
        self._base = 0  # the seq at index 0 of the arrays
        self._held = bytearray()  # 1: held and not acknowledged
        self._message = array("Q")  # number of the message with its oldest copy (0: not on the wire yet)
        self._count = 0
        self._low = 0  # index: nothing held below it
        self._messages: deque[tuple[int, list[int]]] = deque()  # (message number, its seqs), wire order
        self._message_no = 0
        self._lost_before = 0  # message number: what went before it and is unacknowledged was lost
        self._probe_next: set[int] = set()  # seqs chosen for a probe, not on the wire yet
        self._probe_copies: dict[int, int] = {}  # seq: the probe message carrying its newest copy
        self._last_probe: tuple[int, list[int]] | None = None  # the newest probe message and its seqs
        self._ack_gap = 0.0  # smoothed seconds between acknowledgements that brought progress
        self.last_progress = now
        self.backoff = ack_timeout_s
        self.timeouts = 0  # times no acknowledgement came in time and the oldest batch went again

    def __len__(self) -> int:
        return self._count

    def __contains__(self, seq: int) -> bool:
        i = seq - self._base
        return 0 <= i < len(self._held) and self._held[i] == 1

    def room(self) -> int:
        return self.limit - self._count

    def lowest(self) -> int | None:
        """The lowest seq still unacknowledged, if any."""
        if not self._count:
            return None
        self._low = self._held.find(1, self._low)
        return self._base + self._low

    def hold(self, seqs: Sequence[int], now: float) -> None:
        """Take ``seqs`` (ascending, above everything held) before they go on the wire."""
        if not seqs:
            return
        if not self._count:
            self.last_progress = now  # the ack timeout counts from the first record held
            self._base, self._low = seqs[0], 0
            del self._held[:], self._message[:]
        base, held = self._base, self._held
        end = seqs[-1] - base + 1
        if end > len(held):
            grow = end - len(held)
            held.extend(bytes(grow))
            self._message.frombytes(bytes(8 * grow))
        if seqs[-1] - seqs[0] + 1 == len(seqs):  # consecutive, as they come from the spool
            held[seqs[0] - base : end] = b"\x01" * len(seqs)
        else:
            for seq in seqs:
                held[seq - base] = 1
        self._count += len(seqs)

    def sent(self, seqs: list[int]) -> None:
        """One bus message carrying ``seqs`` (all held) went on the wire."""
        self._message_no = number = self._message_no + 1
        message, base = self._message, self._base
        if seqs and (min(seqs) < base or max(seqs) - base >= len(message)):
            seqs = [seq for seq in seqs if seq in self]  # never write outside the arrays
        probe, copies = self._probe_next, self._probe_copies
        if probe or copies:
            probed = []
            for seq in seqs:
                if seq in probe and message[seq - base]:  # the first copy may still arrive: acks name it
                    probe.discard(seq)
                    copies[seq] = number
                    probed.append(seq)
                else:
                    message[seq - base] = number
                    copies.pop(seq, None)
            if probed:
                self._last_probe = (number, probed)
        else:
            for seq in seqs:
                message[seq - base] = number
        self._messages.append((number, seqs))

    def acknowledged(self, spans: Iterable[tuple[int, int]], now: float) -> int:
        """Forget the acknowledged seqs (inclusive ``(first, last)`` spans); how many were held."""
        acked = 0
        newest = 0
        if self._probe_copies:
            spans = list(spans)  # read twice
        base, held, message = self._base, self._held, self._message
        for first, last in spans:
            i, j = max(first - base, 0), min(last - base + 1, len(held))
            if i >= j:
                continue
            if j - i <= _SHORT_SPAN:  # one by one is cheaper than slicing (relayed records come singly)
                for k in range(i, j):
                    if held[k]:
                        held[k] = 0
                        acked += 1
                        newest = max(newest, message[k])
                        message[k] = 0
                continue
            n = held.count(1, i, j)
            if not n:
                continue
            acked += n
            newest = max(newest, max(message[i:j]))  # what is not held has 0 there
            held[i:j] = bytes(j - i)
            message[i:j] = array("Q", bytes(8 * (j - i)))
        if acked and self._probe_copies:
            self._drop_probe_copies(spans)
        if acked:
            self._count -= acked
            # Like TCP's retransmission timer: never probe sooner than a few of the gaps seen
            # between acknowledgements, so a slow (not lost) collector is not flooded.
            gap = now - self.last_progress
            self._ack_gap = gap if self._ack_gap == 0 else 0.8 * self._ack_gap + 0.2 * gap
            self.last_progress = now
            self.backoff = max(self.ack_timeout_s, min(4 * self._ack_gap, MAX_BACKOFF_S))
            self._lost_before = max(self._lost_before, newest)
            self._compact()
        return acked

    def lost(self, now: float, *, can_send: bool) -> list[int]:
        """The seqs to send again now: those lost on the way, or a probe after the timeout."""
        lost: list[int] = []
        messages, message, base, held = self._messages, self._message, self._base, self._held
        copies = self._probe_copies
        size = len(held)
        while messages and messages[0][0] < self._lost_before:
            number, seqs = messages.popleft()
            if not seqs or not held.count(1, max(min(seqs) - base, 0), max(max(seqs) - base + 1, 0)):
                continue  # all of it acknowledged: the common case, checked at C speed
            # Not acknowledged (acknowledged ones have 0), and this is its oldest copy.
            for seq in seqs:
                i = seq - base
                if 0 <= i < size and message[i] == number:
                    probe = copies.pop(seq, None) if copies else None
                    if probe is None:
                        lost.append(seq)
                    else:  # a probe's copy is still on the way: it is the oldest now
                        message[i] = probe
        if lost:
            lost.sort()
            return lost
        if not (self._count and can_send and now - self.last_progress > self.backoff):
            return lost
        last = self._last_probe
        if last is not None and not any(seq in self for seq in last[1]):
            # The last probe was acknowledged and nothing came since: the bus was away and what
            # went before the probe is gone. All of it goes again, as probes too: were it still
            # on the way after all (a store stalled twice), its acks still name the first copies.
            lost = self._sent_before(last[0])
        if not lost:
            lost = self._first_held(self.probe_size)
        self._probe_next = set(lost)
        self._last_probe = None
        self.timeouts += 1
        self.last_progress = now
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
        return lost

    def _sent_before(self, number: int) -> list[int]:
        """The seqs held whose oldest copy went in a message before ``number`` (a pass over the window)."""
        message, base = self._message, self._base
        return [seq for seq in self._first_held(self._count) if 0 < message[seq - base] < number]

    def forget_below(self, floor: int) -> list[int]:
        """Drop every record with a seq below ``floor`` (its spool segment is gone); their seqs."""
        gone = self._first_held(self._count, below=floor)
        for seq in gone:
            self._held[seq - self._base] = 0
            self._message[seq - self._base] = 0
        self._count -= len(gone)
        for seq in gone:
            self._probe_copies.pop(seq, None)
            self._probe_next.discard(seq)
        return gone

    def _drop_probe_copies(self, spans: Iterable[tuple[int, int]]) -> None:
        """Forget the probe copies of acknowledged records (few: a probe is one batch)."""
        copies = self._probe_copies
        for first, last in spans:
            if last - first < len(copies):
                for seq in range(first, last + 1):
                    copies.pop(seq, None)
            else:
                for seq in [seq for seq in copies if first <= seq <= last]:
                    del copies[seq]

    def _first_held(self, n: int, below: int | None = None) -> list[int]:
        """The lowest ``n`` seqs held (only those below ``below``, if given), ascending."""
        out: list[int] = []
        held, i = self._held, self._low
        end = len(held) if below is None else max(0, min(len(held), below - self._base))
        while len(out) < n:
            i = held.find(1, i, end)
            if i < 0:
                break
            out.append(self._base + i)
            i += 1
        return out

    def _compact(self) -> None:
        """Drop the arrays' acknowledged prefix once it is long (an amortized memmove)."""
        if not self._count:
            return
        low = self._held.find(1, self._low)
        self._low = low
        if low >= _COMPACT_AT and low * 2 >= len(self._held):
            del self._held[:low], self._message[:low]
            self._base += low
            self._low = 0
