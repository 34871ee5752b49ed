"""Reliable delivery (the default): spool first, send, keep in the window until acknowledged.

1. Each record gets the next sequence number and goes to the spool (disk) first,
2. it is sent and kept in a bounded window (seqs only) until the collector acknowledges it,
3. what is lost goes again: a record sent before one that was acknowledged, but not
   acknowledged itself, was dropped on the way; with no acknowledgement at all for
   ``ack_timeout_s`` (bus or collector down), the oldest batch goes again as a probe,
   backing off (``window.py``),
4. when the window is full or the bus is away, records wait in the spool, not in memory,
   and go out from there when acknowledgements flow again (also after a restart).

The store keeps one copy per (producer id, seq), so resending is always safe: delivery is
at least once, storage exactly once. Acknowledgements that cannot be read, that name
another producer or seqs not in flight are counted (``acks_bad``, ``acks_unknown``), and so
are the timeouts that made the window probe (``ack_timeouts``). Used by the sender thread only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.message import DecodeError

from aico.config.settings import Producer as ProducerConfig
from aico.logging.delivery import DRAIN_MAX, transmit
from aico.logging.receipts import LOST, ON_DISK, Outcome, Receipts, spool_outcome
from aico.logging.relay import Item, OwnStamps, RelayStamps
from aico.logging.spool import Spool, SpoolWriteError, drop_notice
from aico.logging.stats import ProducerStats
from aico.logging.transport import Transport
from aico.logging.window import Window
from aico.schema.acks import decode_ack
from aico.schema.record import Record
from aico.stderr import say


class Reliable:
    acks = True
    linger_s = 0.0
    spools = True

    def __init__(self, spool: Spool, cfg: ProducerConfig, stats: ProducerStats, *,
                 stamps: OwnStamps | RelayStamps | None, clock: Callable[[], float],
                 requeue: Callable[[Record], None], name: str, subsystem: str,
                 receipts: Receipts | None = None) -> None:
        self.spool = spool
        self.cfg = cfg
        self.stats = stats
        self.producer_id = spool.producer_id
        self.stamps = OwnStamps(self.producer_id) if stamps is None else stamps
        self.clock = clock
        self._requeue = requeue  # a drop notice goes out as a record of its own
        self._name, self._subsystem = name, subsystem
        self._next_send = spool.watermark
        self._backlog: deque[Item] = deque()  # spooled, not yet sent, in seq order
        self._window = Window(limit=cfg.window, ack_timeout_s=cfg.ack_timeout_s, probe_size=cfg.batch_size,
                              now=clock())
        self._unsent: dict[int, Item] = {}  # in the window, refused by a full socket
        self._last_state_save = 0.0
        self._spool_failing = False
        self.receipts = Receipts() if receipts is None else receipts

    # -- taking records --------------------------------------------------------------
    def take(self, items: list[tuple[bytes, bytes]]) -> Outcome:
        """Spool ``items``; what became of them: ``ON_DISK``, ``LOST`` or the seqs held in memory."""
        spool = self.spool
        outcome: Outcome
        try:
            written = spool.append(items)
        except SpoolWriteError as exc:  # an unexpected error (a refusing disk goes to memory): count
            written = exc.written
            self.stats.drop("spool_error", len(items) - len(written))
            outcome = LOST
            if not written:
                return outcome
        else:
            outcome = spool_outcome(spool.segments, written[0][0], written[-1][0]) if written else ON_DISK
        failing = spool.disk_error is not None and not spool.memory_only
        if failing and not self._spool_failing:  # once per failing stretch, not once per batch
            say(f"cannot write the spool: {spool.disk_error}; records are kept in memory (up to "
                f"{self.cfg.spool_memory_mb:g} MiB) until the disk takes them again")
        elif self._spool_failing and not failing:
            say("the spool's disk takes writes again")
        self._spool_failing = failing
        self.stats.spooled += len(written)
        backlog = self._backlog
        caught_up = not backlog or backlog[-1][0] + 1 == written[0][0]
        if caught_up and (backlog or self._next_send == written[0][0]):
            backlog.extend(written)
        while len(backlog) > self.cfg.backlog:  # the rest is read back from the spool later
            backlog.pop()
        self._enforce_spool_bound()
        return outcome

    def _enforce_spool_bound(self) -> None:
        lost = self.spool.enforce_bound()
        if not lost:
            return
        floor = self.spool.watermark
        self.receipts.dropped(floor)
        for seq in self._window.forget_below(floor):
            self.stamps.forget(seq)
        while self._backlog and self._backlog[0][0] < floor:
            self._backlog.popleft()
        self._next_send = max(self._next_send, floor)
        reason = "memory_full" if self.spool.memory_size or self.spool.memory_only else "spool_full"
        self.stats.drop(reason, lost)
        self._requeue(drop_notice(lost, self._name, self._subsystem, self.producer_id, reason))

    # -- sending -----------------------------------------------------------------------
    def send(self, transport: Transport) -> None:
        if not transport.ready():
            return  # no collector subscribed yet: records wait in the spool, not lost on the way
        if self._unsent and self._send_unsent(transport):
            return  # the socket is still full
        while (room := self._window.room()) > 0:
            batch = self._next_batch(min(room, DRAIN_MAX))
            if not batch:
                return
            self._window.hold([item[0] for item in batch], self.clock())
            self._next_send = batch[-1][0] + 1
            if self._transmit(transport, batch):
                return  # the socket is full: these go first next time

    def _next_batch(self, limit: int) -> list[Item]:
        backlog = self._backlog
        if backlog and backlog[0][0] == self._next_send:
            return [backlog.popleft() for _ in range(min(limit, len(backlog)))]
        backlog.clear()
        if self._next_send >= self.spool.next_seq:
            return []
        return self.spool.read_from(self._next_send, limit)

    def _send_unsent(self, transport: Transport) -> bool:
        """Send what a full socket refused before; True if some is still refused."""
        items = [item for seq, item in self._unsent.items() if seq in self._window]
        self._unsent.clear()
        return self._transmit(transport, items)

    def _transmit(self, transport: Transport, items: list[Item], resend: bool = False) -> bool:
        """Send ``items``; what the socket refuses is kept to go first next time. True if some was."""
        count, unsent = transmit(transport, items, self.cfg.batch_size, self.stamps, self._on_sent)
        if resend:
            self.stats.resent += count
        else:
            self.stats.sent += count
        self._unsent.update((item[0], item) for item in unsent)
        return bool(unsent)

    def _on_sent(self, chunk: list[Item]) -> None:
        self._window.sent([seq for seq, _, _ in chunk])
        self.stamps.track(chunk)

    # -- what comes back -------------------------------------------------------------
    def settle(self, transport: Transport, acks: list[bytes], now: float) -> None:
        """Take the acknowledgements, send again what is lost, send on, and let the spool go."""
        if acks:
            spans = list(self._own_spans(acks))
            acked = self._window.acknowledged(spans, now)
            self.stats.acknowledged += acked
            self.stats.acks_unknown += sum(last - first + 1 for first, last in spans) - acked  # late or twice
        self._resend_lost(transport, now)
        self.send(transport)
        low = self._window.lowest()
        self.spool.advance(self._next_send if low is None else low)
        self.receipts.settle(self.spool.watermark)
        if now - self._last_state_save > 0.5:
            self.spool.save_state()
            self._last_state_save = now

    def _own_spans(self, payloads: list[bytes]) -> Iterator[tuple[int, int]]:
        """The spans of this producer's spool seqs that the acknowledgements in ``payloads`` name."""
        for payload in payloads:
            try:
                producer_id, spans = decode_ack(payload)
            except (DecodeError, ValueError):
                self.stats.acks_bad += 1
                continue
            own = self.stamps.own_spans(producer_id, spans)
            if own is None:
                self.stats.acks_bad += 1
            else:
                yield from own

    def _resend_lost(self, transport: Transport, now: float) -> None:
        window = self._window
        timeouts = window.timeouts
        lost = window.lost(now, can_send=transport.ready())
        self.stats.ack_timeouts += window.timeouts - timeouts
        if not lost:
            return
        try:
            items = self.spool.read_seqs(lost)  # the window keeps seqs only: the records are here
        except OSError as exc:
            say(f"cannot read the spool: {exc}")
            return
        self._transmit(transport, items, resend=True)

    # -- what the front asks ---------------------------------------------------------
    def wants_to_send(self) -> bool:
        """Whether the socket's room is all the sender waits for (then it wakes when there is room)."""
        return bool(self._unsent) or (self._window.room() > 0 and self._next_send < self.spool.next_seq)

    def idle(self) -> bool:
        return not self._window and self._next_send >= self.spool.next_seq

    def backlog_size(self) -> int:
        return max(0, self.spool.next_seq - self._next_send)

    def inflight(self) -> int:
        return len(self._window)

    def over_bound(self) -> bool:
        return self.spool.size > 0.9 * self.spool.max_bytes

    def figures(self) -> dict[str, Any]:
        spool = self.spool
        return {
            "spool_bytes": spool.size,
            "spool_memory_bytes": spool.memory_size,
            "spool_memory_only": spool.memory_only,
            "spool_disk_errors": spool.disk_errors,
            "spool_bad_frames": spool.bad_frames,
            "spool_disk_error": str(spool.disk_error) if spool.disk_error else None,
        }

    def close(self) -> None:
        try:
            self.spool.close()
        except OSError as exc:
            say(f"cannot close the spool: {exc}")
