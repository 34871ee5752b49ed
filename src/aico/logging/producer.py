"""The producer: takes records from any thread, never blocks them, and gets each one stored.

The front (this class) is what any thread touches: ``offer`` appends to a bounded
in-memory queue and never waits for the bus or the collector; ``flush`` and ``close``
wait, with a timeout. Behind it, one sender thread (``sender.py``) owns the bus socket(s)
and a delivery: ``Reliable`` (the default: spool, window, acknowledgements, resends;
``reliable.py``) or ``FireAndForget`` (``core.logging.producer.reliable: false``;
``delivery.py``). How records are stamped and which acknowledgements are this producer's
is a stamps object (``relay.py``): its own by default, the relayed producers' for the
frontend bridge (``relay_prefix``). Nothing here logs through ``aico.logging``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from aico.bus.curve import bus_keys
from aico.config.settings import Settings
from aico.logging.delivery import Delivery, FireAndForget
from aico.logging.receipts import Receipts
from aico.logging.relay import RelayStamps
from aico.logging.reliable import Reliable
from aico.logging.sender import Sender, TransportFactory
from aico.logging.spool import Spool, SpoolWriteError, open_spool
from aico.logging.spool_cipher import spool_cipher
from aico.logging.stats import ProducerStats
from aico.logging.transport import ZmqTransport
from aico.schema.record import Record
from aico.stderr import say


class Producer:
    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        subsystem: str | None = None,
        transport_factory: TransportFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        relay_prefix: str | None = None,
    ) -> None:
        cfg = settings.core.logging.producer
        self.cfg = cfg
        self.name = name
        self.subsystem = subsystem or name
        self.reliable = cfg.reliable
        self.stats = ProducerStats()
        self._queue: deque[Record] = deque()
        self._done = threading.Condition(threading.Lock())
        relay = RelayStamps(relay_prefix) if relay_prefix is not None else None
        self.receipts = Receipts()  # durability handshake of offer_durable (receipts.py)
        self.spool: Spool | None = _open_spool(settings, name) if cfg.reliable else None
        self.delivery: Delivery
        if self.spool is not None:
            self.delivery = Reliable(self.spool, cfg, self.stats, stamps=relay, clock=clock,
                                     requeue=self._queue.append, name=name, subsystem=self.subsystem,
                                     receipts=self.receipts)
        else:
            self.delivery = FireAndForget(cfg, self.stats, stamps=relay)
        self.producer_id = self.delivery.producer_id
        bus = settings.core.message_bus
        # What ZeroMQ may queue for sending, in messages (a message holds up to batch_size records).
        # Reliable mode keeps everything unsent in the spool, so a small queue bounds memory
        # (resends of the window must not pile up in ZeroMQ); fire and forget needs the room.
        send_hwm = max(64, 4 * cfg.window // cfg.batch_size) if cfg.reliable else None
        factory = transport_factory or (
            lambda pid, acks: ZmqTransport(bus, pid, acks=acks, keys=bus_keys(settings), send_hwm=send_hwm))
        self._sender = Sender(self._queue, self._done, self.delivery, cfg=cfg, stats=self.stats,
                              transport_factory=factory, clock=clock, subsystem=self.subsystem,
                              receipts=self.receipts)
        self._bell = self._sender.bell

    def start(self) -> Producer:
        self._sender.start(self.name)
        return self

    def offer(self, record: Record) -> bool:
        """Hand one record over. Never waits for the bus or the collector.

        When the in-memory queue is full (the application logs faster than the sender can
        keep up), the calling thread moves the queue to the disk spool itself: memory stays
        bounded and nothing is lost while the spool has room. Without a spool (fire and
        forget), the record is dropped and counted.
        """
        if len(self._queue) >= self.cfg.queue_size and not self._spool_queue():
            self.stats.drop("queue_full")
            return False
        self._queue.append(record)
        if self._bell.armed:  # the sender sleeps: wake it (one attribute read when it is busy)
            self._bell.ring()
        return True

    def _spool_queue(self) -> bool:
        """Move the full queue to the spool in the calling thread; False if that cannot be done."""
        if not self.delivery.spools or not self.running:
            return False
        with self._done:
            try:
                self._sender.take_queue()
            except (OSError, SpoolWriteError):  # never into the application: the record is counted
                return False
            self.stats.caller_spooled += 1
        return True

    def offer_many(self, records: Sequence[Record]) -> bool:
        """Hand all of ``records`` over, or none of them (False) when the bounds are reached."""
        if self.pressure(len(records)):
            return False
        self._queue.extend(records)
        if self._bell.armed:
            self._bell.ring()
        return True

    def offer_durable(self, records: Sequence[Record]) -> Future[bool] | None:
        """Like ``offer_many`` (None when the bounds are reached), with a receipt: True once all of
        ``records`` survive a SIGKILL of this process (spooled on disk, or stored), False if some
        cannot (``receipts.py``). The bridge answers 2xx only on True."""
        if not records or self.pressure(len(records)):
            return None
        receipt = self.receipts.expect(records)  # before the queue: the sender may drain them at once
        self._queue.extend(records)
        if self._bell.armed:
            self._bell.ring()
        return receipt

    def pressure(self, extra: int = 0) -> bool:
        """True when taking ``extra`` more records would pass the queue or spool bound."""
        return len(self._queue) + extra > self.cfg.queue_size or self.delivery.over_bound()

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
        if self._sender.started:
            self._sender.stop()
        else:
            self.delivery.close()  # never started: nothing else owns the spool
            self._bell.close()
        return ok

    @property
    def running(self) -> bool:
        return self._sender.running

    def snapshot(self) -> dict[str, Any]:
        return {
            "producer_id": self.producer_id,
            "name": self.name,
            "reliable": self.reliable,
            "running": self.running,
            "queued": len(self._queue),
            "backlog": self.delivery.backlog_size(),
            "inflight": self.delivery.inflight(),
            **self.delivery.figures(),
            **self.stats.as_dict(),
        }

    def _idle(self) -> bool:
        return not self._queue and self.delivery.idle()


def _open_spool(settings: Settings, name: str) -> Spool:
    cfg = settings.core.logging.producer
    spool = open_spool(
        settings.spool_dir, name, cipher=spool_cipher(settings),
        segment_bytes=int(cfg.spool_segment_mb * 1024 * 1024),
        max_bytes=int(cfg.spool_max_mb * 1024 * 1024),
        memory_bytes=int(cfg.spool_memory_mb * 1024 * 1024),
    )
    if spool.memory_only:
        say(f"cannot use the spool at {spool.dir}: {spool.disk_error}; records are kept "
            f"in memory only (up to {cfg.spool_memory_mb:g} MiB, the oldest dropped and counted past it)")
    return spool
