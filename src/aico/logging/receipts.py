"""Receipts: a producer says when a batch it was handed is durable (the bridge answers 2xx only then).

Durable means it survives a SIGKILL of this process: written to the spool file (handed to the
OS, the spool's own promise: ``spool.py``), or, for records the spool holds in memory because its
disk refuses writes, acknowledged by the store (the spool's watermark passed them).

``Producer.offer_durable`` registers a batch's first and last record here before they enter the
queue; the sender thread reports each drain of the queue (``taken``) with what became of it: on
disk, held in memory (a seq range), or not written. One spool write serves every batch the drain
holds: a group commit, with no extra flush. A receipt is a ``concurrent.futures.Future[bool]``:
True once the whole batch is durable; False when some of it cannot be (a write failed, a bound
dropped records held in memory, the sender stopped): the client sends it again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from aico.logging.spool_segments import Segment
from aico.schema.record import Record

ON_DISK = "disk"
LOST = "lost"
Outcome = str | tuple[int, int]  # what became of records taken from the queue: ON_DISK, LOST, or held (first, last)


@dataclass(eq=False)
class _Pending:
    future: Future[bool] = field(default_factory=Future)
    ok: bool = True
    held_from: int = 0  # lowest seq held in memory (0: none)
    held_to: int = 0  # highest seq held in memory: durable once the watermark passes it

    def merge(self, outcome: str | tuple[int, int]) -> None:
        if outcome == LOST:
            self.ok = False
        elif isinstance(outcome, tuple):
            first, last = outcome
            self.held_from = first if not self.held_from else min(self.held_from, first)
            self.held_to = max(self.held_to, last)


def _settle(future: Future[bool], ok: bool) -> None:
    if not future.done():
        future.set_result(ok)


class Receipts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[int, _Pending] = {}  # id(first record of a batch) -> its receipt, until drained
        self._last: dict[int, _Pending] = {}  # id(last record of a batch) -> its receipt, until drained
        self._open: set[_Pending] = set()  # first record drained, last not yet (a batch split by a drain)
        self._held: list[_Pending] = []  # drained whole, part held in memory: waiting for the watermark

    def expect(self, records: Sequence[Record]) -> Future[bool]:
        """A receipt for ``records`` (not empty), registered before they enter the queue."""
        pending = _Pending()
        with self._lock:
            self._first[id(records[0])] = pending
            self._last[id(records[-1])] = pending
        return pending.future

    def taken(self, records: Sequence[Record], outcome: str | tuple[int, int]) -> None:
        """``records`` left the queue: ``ON_DISK``, ``LOST``, or (first, last) seqs held in memory."""
        done: list[_Pending] = []
        with self._lock:
            if not self._first and not self._open:
                return
            for split in self._open:
                split.merge(outcome)
            first, last = self._first, self._last
            for record in records:
                key = id(record)
                pending = first.pop(key, None)
                if pending is not None:
                    pending.merge(outcome)
                    self._open.add(pending)
                pending = last.pop(key, None)
                if pending is not None:
                    self._open.discard(pending)
                    if pending.ok and pending.held_to:
                        self._held.append(pending)
                    else:
                        done.append(pending)
        for pending in done:
            _settle(pending.future, pending.ok)

    def settle(self, watermark: int) -> None:
        """Everything below ``watermark`` is stored (or dropped, said by ``dropped`` first)."""
        if not self._held:
            return
        with self._lock:
            done = [p for p in self._held if p.held_to < watermark]
            self._held = [p for p in self._held if p.held_to >= watermark]
        for pending in done:
            _settle(pending.future, True)

    def dropped(self, floor: int) -> None:
        """A bound dropped the unacknowledged records below ``floor``: receipts holding any are not durable."""
        with self._lock:
            lost = [p for p in self._held if p.held_from < floor]
            self._held = [p for p in self._held if p.held_from >= floor]
            for pending in self._open:
                if pending.held_from and pending.held_from < floor:
                    pending.ok = False
        for pending in lost:
            _settle(pending.future, False)

    def abandon(self) -> None:
        """The sender stops: nothing still waiting will become durable in this process."""
        with self._lock:
            every = {*self._first.values(), *self._last.values(), *self._open, *self._held}
            self._first, self._last, self._open, self._held = {}, {}, set(), []
        for pending in every:
            _settle(pending.future, False)

    def __len__(self) -> int:
        return len({*self._first.values(), *self._last.values(), *self._open, *self._held})


def spool_outcome(segments: Sequence[Segment], first: int, last: int) -> str | tuple[int, int]:
    """Where seqs ``first``..``last``, just appended, are: ``ON_DISK`` or held in memory (first, last)."""
    in_memory = any(s.memory is not None and s.last_seq >= first for s in segments)
    return (first, last) if in_memory else ON_DISK
