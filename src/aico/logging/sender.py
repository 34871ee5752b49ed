"""The sender: the one background thread that owns the bus socket(s) and the delivery.

It drains the front's queue (``take_queue``), hands the encoded records to the delivery
(reliable: spool, window, acknowledgements; or fire and forget), waits for acknowledgements
or room on the socket, and lets the delivery settle what came back. State changes happen
under the front's lock, so ``Producer.flush`` sees a consistent state. Nothing here logs
through ``aico.logging``: what it must tell goes to stderr (``stderr.py``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

import zmq

from aico.config.settings import Producer as ProducerConfig
from aico.errors import AicoError
from aico.logging.delivery import DRAIN_MAX, Delivery, encode
from aico.logging.receipts import LOST, Receipts
from aico.logging.stats import ProducerStats
from aico.logging.transport import Transport
from aico.recursion_guard import infrastructure_thread
from aico.schema.record import Record
from aico.stderr import say

TransportFactory = Callable[[str, bool], Transport]


class Sender:
    def __init__(self, queue: deque[Record], lock: threading.Condition, delivery: Delivery, *,
                 cfg: ProducerConfig, stats: ProducerStats,
                 transport_factory: TransportFactory, clock: Callable[[], float], subsystem: str,
                 receipts: Receipts | None = None) -> None:
        self._queue = queue
        self._done = lock
        self.delivery = delivery
        self.cfg = cfg
        self.stats = stats
        self.stamps = delivery.stamps
        self._transport_factory = transport_factory
        self._clock = clock
        self._subsystem = subsystem
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self.receipts = Receipts() if receipts is None else receipts

    def start(self, name: str) -> None:
        self._thread = threading.Thread(target=self._run, name=f"aico-producer-{name}", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop after one last round; wait for that (unless called from the sender itself)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def take_queue(self) -> None:
        """Hand up to ``DRAIN_MAX`` queued records to the delivery (the caller holds the lock)."""
        q = self._queue
        records = [q.popleft() for _ in range(min(len(q), DRAIN_MAX))]
        if not records:
            return
        self.stats.produced += len(records)
        items = encode(self.stamps.stamp(records, self.delivery.producer_id), self._subsystem,
                       self.stamps, self.stats)
        # what became of them, for the receipts of offer_durable: none encoded is none durable
        self.receipts.taken(records, self.delivery.take(items) if items else LOST)

    # -- the thread ------------------------------------------------------------------
    def _run(self) -> None:
        with infrastructure_thread():
            transport: Transport | None = None
            try:
                transport = self._open_transport()
                if transport is not None:
                    self._loop(transport)
            except Exception as exc:  # noqa: BLE001 - a bug here must not take the application down: told
                say(f"sender stopped: {type(exc).__name__}: {exc}")
            finally:
                self.receipts.abandon()  # nothing still waiting becomes durable in this process
                try:
                    if transport is not None:
                        transport.close(self.delivery.linger_s)
                finally:
                    self.delivery.close()

    def _loop(self, transport: Transport) -> None:
        backoff = 0.0
        while True:
            stopping = self._stop.is_set()
            try:
                self._step(transport, stopping)
            except OSError as exc:  # a full, read-only or vanished disk: count, back off, go on
                self.stats.os_errors += 1
                if not self._failing:
                    say(f"sender: {exc}; records are kept (in memory within its bound) and it goes on")
                self._failing = True
                backoff = min(max(backoff * 2, 0.05), 2.0)
                if stopping:
                    return
                self._stop.wait(backoff)
                continue
            self._failing, backoff = False, 0.0
            if stopping:
                return

    def _open_transport(self) -> Transport | None:
        """The bus, tried again with a backoff while it cannot be opened (say, keys not readable yet)."""
        wait, said = 0.5, False
        while True:
            try:
                return self._transport_factory(self.stamps.acks_for, self.delivery.acks)
            except (zmq.ZMQError, OSError, ValueError, AicoError) as exc:
                if not said:
                    say(f"cannot open the bus: {exc}; records stay spooled, trying again")
                    said = True
            if self._stop.wait(wait):
                return None
            wait = min(wait * 2, 15.0)

    def _step(self, transport: Transport, stopping: bool) -> None:
        """One round: take the queue and send, wait for acknowledgements or room, settle."""
        delivery = self.delivery
        with self._done:
            self.take_queue()
            delivery.send(transport)
            self._done.notify_all()
        if self._queue:
            wait = 0.0
        elif stopping:
            wait = 0.002
        else:
            wait = self.cfg.flush_interval_ms / 1000
        acks = transport.wait_acks(wait, want_send=delivery.wants_to_send() and transport.ready())
        if not delivery.acks:
            return
        with self._done:
            delivery.settle(transport, acks, self._clock())
            self._done.notify_all()
