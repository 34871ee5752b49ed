"""The producer: takes records from any thread, never blocks them, and gets each one stored.

``offer()`` only appends to a bounded in-memory queue. One sender thread owns the bus
sockets and the spool. In reliable mode (the default) it

1. gives each record the next sequence number and writes it to the spool (disk) first,
2. sends it, keeping it in a bounded in-memory window until the collector acknowledges it,
3. sends again what is lost: a record sent before one that was acknowledged, but not
   acknowledged itself, was dropped on the way; with no acknowledgement at all for
   ``ack_timeout_s`` (bus or collector down), the oldest batch goes again as a probe,
   backing off (``window.py``),
4. when the window is full or the bus is away, records wait in the spool, not in memory,
   and go out from there when acknowledgements flow again (also after a restart).

The store keeps one copy per (producer id, seq), so resending is always safe: delivery is
at least once, storage exactly once. Nothing here logs through ``aico.logging``.

Relay mode (``relay_prefix``, the frontend bridge): records keep the stamp of the producer that
made them (a browser), and acknowledgements under those stamps map back to this producer's
spool seqs (``relay.py``).
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from operator import itemgetter
from typing import Any

from aico.bus.curve import bus_keys
from aico.config.settings import Settings
from aico.logging.guard import infrastructure_thread
from aico.logging.receipts import LOST, ON_DISK, Receipts, spool_outcome
from aico.logging.relay import RelayStamps
from aico.logging.spool import Spool, SpoolWriteError, drop_notice, open_spool
from aico.logging.stats import ProducerStats
from aico.logging.transport import Transport, ZmqTransport
from aico.logging.window import Window
from aico.schema import wire
from aico.schema.acks import decode_ack
from aico.schema.record import Record, topic_for

DRAIN_MAX = 2000
_TOPIC = itemgetter(0)


class Producer:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        subsystem: str | None = None,
        transport_factory: Callable[[str, bool], Transport] | None = None,
        clock: Callable[[], float] = time.monotonic,
        relay_prefix: str | None = None,
    ) -> None:
        cfg = settings.core.logging.producer
        self.cfg = cfg
        self.name = name
        self.subsystem = subsystem or name
        self.reliable = cfg.reliable
        self.clock = clock
        self.stats = ProducerStats()
        self._queue: deque[Record] = deque()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.spool: Spool | None = None
        if self.reliable:
            self.spool = open_spool(
                settings.spool_dir, name,
                segment_bytes=int(cfg.spool_segment_mb * 1024 * 1024),
                max_bytes=int(cfg.spool_max_mb * 1024 * 1024),
                memory_bytes=int(cfg.spool_memory_mb * 1024 * 1024),
            )
            if self.spool.memory_only:
                _say(f"cannot use the spool at {self.spool.dir}: {self.spool.disk_error}; records are kept "
                     f"in memory only (up to {cfg.spool_memory_mb:g} MiB, the oldest dropped and counted past it)")
            self.producer_id = self.spool.producer_id
            self._next_seq = self.spool.next_seq
        else:
            self.producer_id = uuid.uuid4().hex
            self._next_seq = 1
        bus = settings.core.message_bus
        # What ZeroMQ may queue for sending, in messages (a message holds up to batch_size records).
        # Reliable mode keeps everything unsent in the spool, so a small queue bounds memory
        # (resends of the window must not pile up in ZeroMQ); fire and forget needs the room.
        send_hwm = max(64, 4 * cfg.window // cfg.batch_size) if cfg.reliable else None
        self._transport_factory = transport_factory or (
            lambda pid, acks: ZmqTransport(bus, pid, acks=acks, keys=bus_keys(settings), send_hwm=send_hwm))
        self._stamp = wire.producer_stamp_prefix(self.producer_id)
        # Sender-thread state.
        self._next_send = self.spool.watermark if self.spool else 1
        self._backlog: deque[tuple[int, bytes, bytes]] = deque()  # spooled, not yet sent, in seq order
        self._inflight = Window(limit=cfg.window, ack_timeout_s=cfg.ack_timeout_s, probe_size=cfg.batch_size,
                                now=clock())
        self._last_state_save = 0.0
        self._spool_failing = False
        self._sender_failing = False
        self._unsent: dict[int, tuple[int, bytes, bytes]] = {}  # in the window, refused by a full socket
        self.relay = RelayStamps(relay_prefix) if relay_prefix is not None else None
        self.receipts = Receipts()  # durability handshake of offer_durable (receipts.py)

    # -- any thread --------------------------------------------------------------------
    def start(self) -> Producer:
        self._thread = threading.Thread(target=self._run, name=f"aico-producer-{self.name}", daemon=True)
        self._thread.start()
        return self

    def offer(self, record: Record) -> bool:
        """Hand one record over. Never waits for the bus or the collector.

        When the in-memory queue is full (the application logs faster than the sender can
        keep up), the calling thread moves the queue to the disk spool itself: memory stays
        bounded and nothing is lost while the spool has room. Without a spool (fire and
        forget), the record is dropped and counted.
        """
        if len(self._queue) >= self.cfg.queue_size:
            if self.spool is None or not self.running:
                self.stats.drop("queue_full")
                return False
            with self._done:
                try:
                    self._take_queue()
                except Exception:  # never into the application
                    self.stats.drop("queue_full")
                    return False
                self.stats.caller_spooled += 1
        self._queue.append(record)
        return True

    def offer_many(self, records: Sequence[Record]) -> bool:
        """Hand all of ``records`` over, or none of them (False) when the bounds are reached."""
        if self.pressure(len(records)):
            return False
        self._queue.extend(records)
        return True

    def offer_durable(self, records: Sequence[Record]) -> Future[bool] | None:
        """Like ``offer_many`` (None when the bounds are reached), with a receipt: True once all of
        ``records`` survive a SIGKILL of this process (spooled on disk, or stored), False if some
        cannot (``receipts.py``). The bridge answers 2xx only on True."""
        if not records or self.pressure(len(records)):
            return None
        receipt = self.receipts.expect(records)  # before the queue: the sender may drain them at once
        self._queue.extend(records)
        return receipt

    def pressure(self, extra: int = 0) -> bool:
        """True when taking ``extra`` more records would pass the queue or spool bound."""
        if len(self._queue) + extra > self.cfg.queue_size:
            return True
        return self.spool is not None and self.spool.size > 0.9 * self.spool.max_bytes

    def count_drop(self, reason: str) -> None:
        self.stats.drop(reason)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything offered so far is acknowledged (reliable) or sent; True if so."""
        timeout = self.cfg.flush_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        # No need to hurry the sender: an acknowledgement wakes it at once, and it wakes this.
        with self._done:
            while not self._idle():
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    return self._idle()
                self._done.wait(min(left, 0.05))
            return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout``, stop the sender; what is unacknowledged stays spooled."""
        ok = self.flush(timeout) if self.running else self._idle()
        self._stop.set()
        if self._thread is None and self.spool is not None:
            self.spool.close()  # never started: nothing else owns the spool
        elif self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        return ok

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> dict[str, Any]:
        spool = self.spool
        return {
            "producer_id": self.producer_id,
            "name": self.name,
            "reliable": self.reliable,
            "running": self.running,
            "queued": len(self._queue),
            "backlog": self._backlog_size(),
            "inflight": len(self._inflight),
            "spool_bytes": spool.size if spool else 0,
            "spool_memory_bytes": spool.memory_size if spool else 0,
            "spool_memory_only": bool(spool and spool.memory_only),
            "spool_disk_errors": spool.disk_errors if spool else 0,
            "spool_disk_error": str(spool.disk_error) if spool and spool.disk_error else None,
            **self.stats.as_dict(),
        }

    def _backlog_size(self) -> int:
        if self.spool is None:
            return len(self._backlog)
        return max(0, self.spool.next_seq - self._next_send)

    def _idle(self) -> bool:
        if self._queue:
            return False
        if self.spool is None:
            return not self._backlog
        return not self._inflight and self._next_send >= self.spool.next_seq

    # -- the sender thread -------------------------------------------------------------
    def _run(self) -> None:
        with infrastructure_thread():
            transport = self._open_transport()
            if transport is None:
                self.receipts.abandon()
                self._close_spool()
                return
            backoff = 0.0
            try:
                while True:
                    stopping = self._stop.is_set()
                    try:
                        self._step(transport, stopping)
                    except OSError as exc:  # a full, read-only or vanished disk: count, back off, go on
                        self.stats.os_errors += 1
                        if not self._sender_failing:
                            _say(f"sender: {exc}; records are kept (in memory within its bound) and it goes on")
                        self._sender_failing = True
                        backoff = min(max(backoff * 2, 0.05), 2.0)
                        if stopping:
                            break
                        self._stop.wait(backoff)
                        continue
                    self._sender_failing, backoff = False, 0.0
                    if stopping:
                        break
            except Exception as exc:  # a bug here must not take the application down
                _say(f"sender stopped: {type(exc).__name__}: {exc}")
            finally:
                self.receipts.abandon()
                try:
                    transport.close(0 if self.reliable else 1.0)
                finally:
                    self._close_spool()

    def _open_transport(self) -> Transport | None:
        """The bus, tried again with a backoff while it cannot be opened (say, keys not readable yet)."""
        acks_for = self.producer_id if self.relay is None else self.relay.prefix
        wait, said = 0.5, False
        while True:
            try:
                return self._transport_factory(acks_for, self.reliable)
            except Exception as exc:
                if not said:
                    _say(f"cannot open the bus: {exc}; records stay spooled, trying again")
                    said = True
            if self._stop.wait(wait):
                return None
            wait = min(wait * 2, 15.0)

    def _close_spool(self) -> None:
        if self.spool is None:
            return
        try:
            self.spool.close()
        except OSError as exc:
            _say(f"cannot close the spool: {exc}")

    def _step(self, transport: Transport, stopping: bool) -> None:
        """One round. State changes happen under the lock, so ``flush`` sees a consistent state."""
        with self._done:
            self._take_queue()
            self._send_new(transport)
            self._done.notify_all()
        if self._queue:
            wait = 0.0
        elif stopping:
            wait = 0.002
        else:
            wait = self.cfg.flush_interval_ms / 1000
        acks = transport.wait_acks(wait, want_send=self._wants_to_send() and transport.ready())
        if self.spool is None:
            return
        with self._done:
            now = self.clock()
            if acks:
                self._on_acks(acks, now)
            self._resend_lost(transport, now)
            self._send_new(transport)
            low = self._inflight.lowest()
            self.spool.advance(self._next_send if low is None else low)
            self.receipts.settle(self.spool.watermark)
            if now - self._last_state_save > 0.5:
                self.spool.save_state()
                self._last_state_save = now
            self._done.notify_all()

    def _wants_to_send(self) -> bool:
        """Whether the socket's room is all the sender waits for (then it wakes when there is room)."""
        if self.spool is None:
            return bool(self._backlog)
        return bool(self._unsent) or (self._inflight.room() > 0 and self._next_send < self.spool.next_seq)

    def _encode(self, records: list[Record]) -> list[tuple[bytes, bytes]]:
        if self.relay is not None:
            records = self.relay.stamp(records, self.producer_id)
        out = []
        for record in records:
            try:
                topic = topic_for(record.get("subsystem") or self.subsystem, record["module"])
                out.append((topic, wire.encode(record, stamp=self.relay is not None)))
            except Exception:
                self.stats.drop("encode_error")
        return out

    def _take_queue(self) -> None:
        records: list[Record] = []
        q = self._queue
        while q and len(records) < DRAIN_MAX:
            records.append(q.popleft())
        if not records:
            return
        self.stats.produced += len(records)
        # Grouped by topic before they get their seqs: a bus message (one topic) then carries
        # consecutive seqs, and the collector's acknowledgement of a batch is a few ranges, not
        # one per record. Records of one topic keep their order.
        items = sorted(self._encode(records), key=_TOPIC)
        if self.spool is None:
            for topic, payload in items:
                self._backlog.append((self._next_seq, topic, payload))
                self._next_seq += 1
            self.receipts.taken(records, ON_DISK)  # fire and forget: taken is all there is
            return
        try:
            written = self.spool.append(items)
        except SpoolWriteError as exc:  # an unexpected error (a refusing disk goes to memory): count
            written = exc.written
            self.stats.drop("spool_error", len(items) - len(written))
            self.receipts.taken(records, LOST)
            if not written:
                return
        else:
            self.receipts.taken(records, spool_outcome(self.spool.segments, written[0][0], written[-1][0])
                                if written else ON_DISK)
        failing = self.spool.disk_error is not None and not self.spool.memory_only
        if failing and not self._spool_failing:  # once per failing stretch, not once per batch
            _say(f"cannot write the spool: {self.spool.disk_error}; records are kept in memory (up to "
                 f"{self.cfg.spool_memory_mb:g} MiB) until the disk takes them again")
        elif self._spool_failing and not failing:
            _say("the spool's disk takes writes again")
        self._spool_failing = failing
        self.stats.spooled += len(written)
        caught_up = not self._backlog or self._backlog[-1][0] + 1 == written[0][0]
        if caught_up and (self._backlog or self._next_send == written[0][0]):
            self._backlog.extend(written)
        while len(self._backlog) > self.cfg.backlog:  # the rest is read back from the spool later
            self._backlog.pop()
        self._enforce_spool_bound()

    def _enforce_spool_bound(self) -> None:
        assert self.spool is not None
        lost = self.spool.enforce_bound()
        if not lost:
            return
        floor = self.spool.watermark
        self.receipts.dropped(floor)
        for seq in self._inflight.forget_below(floor):
            if self.relay is not None:
                self.relay.forget(seq)
        while self._backlog and self._backlog[0][0] < floor:
            self._backlog.popleft()
        self._next_send = max(self._next_send, floor)
        reason = "memory_full" if self.spool.memory_size or self.spool.memory_only else "spool_full"
        self.stats.drop(reason, lost)
        self._queue.append(drop_notice(lost, self.name, self.subsystem, self.producer_id, reason))

    def _next_batch(self, limit: int) -> list[tuple[int, bytes, bytes]]:
        if self.spool is None or (self._backlog and self._backlog[0][0] == self._next_send):
            return [self._backlog.popleft() for _ in range(min(limit, len(self._backlog)))]
        self._backlog.clear()
        if self._next_send >= self.spool.next_seq:
            return []
        return self.spool.read_from(self._next_send, limit)

    def _send_new(self, transport: Transport) -> None:
        if not transport.ready():
            return  # no collector subscribed yet: records wait in the spool, not lost on the way
        if self._unsent and self._send_unsent(transport):
            return  # the socket is still full
        while True:
            room = self._inflight.room() if self.spool is not None else DRAIN_MAX
            if room <= 0:
                return
            batch = self._next_batch(min(room, DRAIN_MAX))
            if not batch:
                return
            if self.spool is None:
                unsent = self._transmit(transport, batch)
                self._backlog.extendleft(reversed(unsent))
                return self._drop_unsent(bool(unsent))
            self._inflight.hold([item[0] for item in batch], self.clock())
            self._next_send = batch[-1][0] + 1
            unsent = self._transmit(transport, batch)
            if unsent:
                self._unsent.update((item[0], item) for item in unsent)
                return  # the socket is full: these go first next time

    def _send_unsent(self, transport: Transport) -> bool:
        """Send what a full socket refused before; True if some is still refused."""
        items = [item for seq, item in self._unsent.items() if seq in self._inflight]
        self._unsent.clear()
        unsent = self._transmit(transport, items)
        self._unsent.update((item[0], item) for item in unsent)
        return bool(unsent)

    def _drop_unsent(self, blocked: bool) -> None:
        # Fire and forget: what the socket cannot take now is not kept beyond the queue bound.
        if blocked and len(self._backlog) > self.cfg.queue_size:
            extra = len(self._backlog) - self.cfg.queue_size
            for _ in range(extra):
                self._backlog.pop()
            self.stats.drop("bus_full", extra)

    def _transmit(self, transport: Transport, items: list[tuple[int, bytes, bytes]],
                  resend: bool = False) -> list[tuple[int, bytes, bytes]]:
        """Send ``items``, one message per topic (at most ``batch_size`` records each).

        Returns what the socket refused (it is full). Each record sent gets the next send
        number, in the order records go on the wire (the loss detection relies on it).
        """
        groups: dict[bytes, list[tuple[int, bytes, bytes]]] = {}
        for item in items:
            groups.setdefault(item[1], []).append(item)
        size = self.cfg.batch_size
        unsent: list[tuple[int, bytes, bytes]] = []
        count = 0
        for topic, group in groups.items():
            for k in range(0, len(group), size):
                chunk = group[k : k + size]
                if unsent:  # once the socket refuses, keep the rest for later
                    unsent.extend(chunk)
                    continue
                if self.relay is None:
                    frames = [payload + self._stamp + wire.seq_field(seq) for seq, _, payload in chunk]
                else:  # relayed records travel with the stamp they came with
                    frames = [payload for _, _, payload in chunk]
                if not transport.send(topic, frames):
                    unsent.extend(chunk)
                    continue
                count += len(chunk)
                if self.spool is None:
                    continue
                self._inflight.sent([seq for seq, _, _ in chunk])
                if self.relay is not None:
                    for seq, _, payload in chunk:
                        self.relay.track(seq, payload)
        if resend:
            self.stats.resent += count
        else:
            self.stats.sent += count
        return unsent

    def _on_acks(self, payloads: list[bytes], now: float) -> None:
        self.stats.acknowledged += self._inflight.acknowledged(self._own_spans(payloads), now)

    def _own_spans(self, payloads: list[bytes]) -> Iterator[tuple[int, int]]:
        """The spans of this producer's spool seqs that the acknowledgements in ``payloads`` name."""
        for payload in payloads:
            try:
                producer_id, spans = decode_ack(payload)
            except Exception:
                continue
            if self.relay is not None:
                yield from ((seq, seq) for seq in self.relay.acked(producer_id, spans))
            elif producer_id == self.producer_id:
                yield from spans

    def _resend_lost(self, transport: Transport, now: float) -> None:
        lost = self._inflight.lost(now, can_send=transport.ready())
        if not lost:
            return
        assert self.spool is not None
        try:
            items = self.spool.read_seqs(lost)  # the window keeps seqs only: the records are here
        except OSError as exc:
            print(f"[aico logging] cannot read the spool: {exc}", file=sys.stderr)
            return
        unsent = self._transmit(transport, items, resend=True)
        self._unsent.update((item[0], item) for item in unsent)


def _say(text: str) -> None:
    """One line on stderr (never through logging: this is the logging path)."""
    try:
        print(f"[aico logging] {text}", file=sys.stderr)
    except Exception:  # a closed or broken stderr: nothing else to tell
        pass
