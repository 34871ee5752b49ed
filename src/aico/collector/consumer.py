"""The log consumer: one thread that owns the SUB socket and the store's single writer.

Records are written in batches bounded by size and time, then acknowledged to their
producers. A payload that fails validation goes, with its reason, to the ``rejects``
table; it never stops the loop or the records around it. If the store cannot write
(a full disk), the batch is kept and retried, nothing is acknowledged, and intake pauses
once enough is held, so producers keep (and later resend) what was not stored.

Nothing here logs through ``aico.logging``: this thread is marked as logging
infrastructure, and its own messages go to stderr.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import zmq

from aico.bus import sockets
from aico.config.settings import Settings
from aico.errors import AicoError, BackendError, StoreError, ValidationError
from aico.logging.guard import infrastructure_thread
from aico.schema import wire
from aico.schema.acks import ack_topic, encode_ack
from aico.schema.record import Record
from aico.schema.timestamps import now_utc, parse_utc
from aico.store.repository import LogStore

TOPIC = b"logs."
MAX_HELD_BATCHES = 5  # batches held while the store fails, before intake pauses
RETRY_DELAY_S = 0.5


class Counters:
    """The consumer's figures (read from other threads; ints are swapped atomically under the GIL)."""

    def __init__(self) -> None:
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self.batches = 0
        self.store_errors = 0
        self.acks_sent = 0
        self.last_commit_at: str | None = None
        self.last_batch_ms = 0.0
        self.lag_ms = 0.0
        self.last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class LogConsumer:
    def __init__(self, settings: Settings, *, single_row: bool = False,
                 open_store: Callable[[], LogStore] | None = None) -> None:
        self.settings = settings
        cfg = settings.core.logging
        self.batch_size = 1 if single_row else cfg.consumer.batch_size
        self.batch_interval = cfg.consumer.batch_interval_ms / 1000.0
        self.single_row = single_row
        self.max_record_bytes = cfg.max_record_bytes
        self.max_message_bytes = cfg.max_message_bytes
        self._open_store = open_store or (lambda: LogStore.open(settings, writer=True))
        self.counters = Counters()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._pending: list[Record] = []
        self._pending_since = 0.0
        self._rejects: list[tuple[bytes | None, bytes, str]] = []

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aico-log-consumer", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise BackendError(f"log consumer cannot start: {self._startup_error}") from self._startup_error

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after storing everything already received."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the loop -----------------------------------------------------------------------
    def _run(self) -> None:
        with infrastructure_thread():
            try:
                store = self._open_store()
                sub = sockets.subscriber(self.settings.core.message_bus, TOPIC)
                acks = sockets.publisher(self.settings.core.message_bus)
            except (AicoError, OSError) as exc:
                self._startup_error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                self._loop(store, sub, acks)
            finally:
                sub.close(linger=0)
                acks.close(linger=500)
                store.close()

    def _loop(self, store: LogStore, sub: zmq.Socket[bytes], acks: zmq.Socket[bytes]) -> None:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        next_retry = 0.0
        while True:
            stopping = self._stop.is_set()
            held = len(self._pending) >= MAX_HELD_BATCHES * self.batch_size
            if not held:
                self._receive(sub, poller, wait=not stopping)
            now = time.monotonic()
            due = self._pending and (
                len(self._pending) >= self.batch_size
                or now - self._pending_since >= self.batch_interval
                or stopping
            )
            if (due or self._rejects) and now >= next_retry and not self._flush(store, acks):
                next_retry = now + RETRY_DELAY_S
                if stopping:
                    return  # the store is failing: what is held stays unacknowledged
                if held:
                    time.sleep(RETRY_DELAY_S / 5)
            if stopping and not self._pending and not self._rejects:
                return

    def _receive(self, sub: zmq.Socket[bytes], poller: zmq.Poller, *, wait: bool) -> None:
        """Take what the socket has, up to a batch; wait at most until the batch is due."""
        timeout = 0
        if wait:
            if self._pending:
                left = self.batch_interval - (time.monotonic() - self._pending_since)
                timeout = max(0, int(left * 1000))
            else:
                timeout = 100
        if not poller.poll(timeout):
            return
        while len(self._pending) < self.batch_size:
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            self._accept(frames)

    def _accept(self, frames: list[bytes]) -> None:
        topic = frames[0]
        payloads = frames[1:]
        if not payloads:
            self.counters.received += 1
            self._reject(topic, b"", "message has a topic frame but no payload")
            return
        for payload in payloads:
            self.counters.received += 1
            try:
                record = wire.decode(
                    payload, max_record_bytes=self.max_record_bytes, max_message_bytes=self.max_message_bytes
                )
            except ValidationError as exc:
                self._reject(topic, payload, str(exc))
                continue
            except Exception as exc:  # a decoder bug must not stop the consumer
                self._reject(topic, payload, f"cannot decode: {type(exc).__name__}: {exc}")
                continue
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.append(record)

    def _reject(self, topic: bytes, payload: bytes, reason: str) -> None:
        self.counters.rejected += 1
        self._rejects.append((topic, payload[: self.max_record_bytes], reason))

    def _flush(self, store: LogStore, acks: zmq.Socket[bytes]) -> bool:
        batch = self._pending[: self.batch_size]
        started = time.perf_counter()
        try:
            if self._rejects:
                store.insert_rejects(self._rejects)
                self._rejects = []
            if not batch:
                return True
            result = store.insert_one(batch[0]) if self.single_row else store.insert_batch(batch)
        except StoreError as exc:
            self.counters.store_errors += 1
            if self.counters.last_error != str(exc):
                print(f"[aico log consumer] {exc}; holding {len(self._pending)} records", file=sys.stderr)
            self.counters.last_error = str(exc)
            return False
        del self._pending[: len(batch)]
        if self._pending:
            self._pending_since = time.monotonic()
        c = self.counters
        c.stored += result.stored
        c.duplicates += result.duplicates
        c.batches += 1
        c.last_error = None
        c.last_batch_ms = (time.perf_counter() - started) * 1000
        c.last_commit_at = now_utc()
        newest = parse_utc(batch[-1]["timestamp"])
        c.lag_ms = max(0.0, (parse_utc(c.last_commit_at) - newest).total_seconds() * 1000)
        self._send_acks(acks, batch)
        return True

    def _send_acks(self, acks: zmq.Socket[bytes], batch: list[Record]) -> None:
        by_producer: dict[str, list[int]] = defaultdict(list)
        for record in batch:
            if record["producer_id"] and record["seq"]:
                by_producer[record["producer_id"]].append(record["seq"])
        for producer_id, seqs in by_producer.items():
            try:
                acks.send_multipart([ack_topic(producer_id), encode_ack(producer_id, seqs)], zmq.NOBLOCK)
                self.counters.acks_sent += 1
            except zmq.ZMQError:
                pass  # a lost ack only costs a resend, which the store deduplicates
