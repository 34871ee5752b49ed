"""The log consumer: receives ``logs.*``, validates, batches, has the writer store, acknowledges.

One thread owns the SUB socket; the store's single writer is a process of its own
(``writer.py``), so decoding the next batch overlaps with committing this one. Batches are
bounded by size and time, and an idle writer is handed what has arrived at once (a group
commit): at low load a record is stored within milliseconds, and a batch grows only while
the writer is busy. A payload that fails validation goes, with its reason, to the
``rejects`` table; it never stops the loop or the records around it. Records are
acknowledged to their producers only once committed. If the store cannot write (a full
disk), the batch is kept and retried, nothing is acknowledged, and intake pauses once
enough is held, so producers keep (and later resend) what was not stored.

Nothing here logs through ``aico.logging``: this thread is marked as logging
infrastructure, and its own messages go to stderr.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict, deque
from typing import Any

import zmq

from aico.bus import sockets
from aico.bus.curve import bus_keys
from aico.collector.writer_client import WriterClient, WriterReply
from aico.config.settings import Settings
from aico.errors import AicoError, BackendError, ValidationError
from aico.privacy.ingest import IngestPolicy
from aico.recursion_guard import infrastructure_thread
from aico.schema import wire
from aico.schema.acks import ack_topic, encode_ack
from aico.schema.record import COLUMNS, Row
from aico.schema.timestamps import now_utc, parse_utc
from aico.stderr import say
from aico.store.writer import Reject, encode_rows

TOPIC = b"logs."
MAX_HELD_BATCHES = 4  # batches held (pending or at the writer) before intake pauses
MAX_AT_WRITER = 2     # batches handed to the writer and not yet answered
RETRY_DELAY_S = 0.5
_TIMESTAMP, _PRODUCER_ID, _SEQ = (COLUMNS.index(c) for c in ("timestamp", "producer_id", "seq"))
ALIVE_CHECK_S = 0.1  # how often the writer process is checked, and the longest idle wait

_PREFIX = "[aico log consumer]"  # its lines on stderr (it runs the logging pipeline: never logs through it)


class Counters:
    """The consumer's figures (read from other threads; ints are swapped atomically under the GIL)."""

    def __init__(self) -> None:
        self.received = 0
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self.rejects_pruned = 0  # the oldest rejects pruned to keep at most reject_max_rows
        self.batches = 0
        self.store_errors = 0
        self.acks_sent = 0
        self.pending = 0
        self.last_commit_at: str | None = None
        self.last_batch_ms = 0.0
        self.lag_ms = 0.0
        self.last_error: str | None = None
        self.privacy_ingest = "off"
        self._policy: IngestPolicy | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        out["masked"] = self._policy.figures() if self._policy is not None else {}
        return out


class LogConsumer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cfg = settings.core.logging
        self.batch_size = cfg.consumer.batch_size
        self.batch_interval = cfg.consumer.batch_interval_ms / 1000.0
        self.max_record_bytes = cfg.max_record_bytes
        self.reject_keep_bytes = cfg.consumer.reject_keep_bytes
        self.max_message_bytes = cfg.max_message_bytes
        self.counters = Counters()
        #: core.privacy.ingest, applied to every record before it is stored
        self.policy = IngestPolicy(settings)
        self.counters.privacy_ingest = self.policy.mode
        self.counters._policy = self.policy
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self._pending: list[Row] = []
        self._pending_since = 0.0
        self._rejects: list[Reject] = []
        self._at_writer: dict[bytes, tuple[str, list[Row], float]] = {}  # id -> kind, records, sent at
        self._retry: deque[list[Row]] = deque()  # record batches the writer could not store yet
        self._ids = itertools.count(1)
        self._next_retry = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aico-log-consumer", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._startup_error is not None:
            raise BackendError(f"log consumer cannot start: {self._startup_error}") from self._startup_error

    def stop(self, timeout: float = 60.0) -> None:
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
            writer = sub = acks = None
            try:
                writer = WriterClient(self.settings)
                keys = bus_keys(self.settings)
                sub = sockets.subscriber(self.settings.core.message_bus, TOPIC, keys=keys)
                acks = sockets.publisher(self.settings.core.message_bus, keys=keys)
            except (AicoError, OSError) as exc:
                self._startup_error = exc
                self._ready.set()
                for closable in (sub, acks):
                    if closable is not None:
                        closable.close(linger=0)
                if writer is not None:
                    writer.close()
                return
            self._ready.set()
            try:
                self._loop(writer, sub, acks)
            finally:
                sub.close(linger=0)
                acks.close(linger=500)
                writer.close()

    def _held(self) -> int:
        return len(self._pending) + sum(len(r) for _, r, _ in self._at_writer.values()) + \
            sum(map(len, self._retry))

    def _loop(self, writer: WriterClient, sub: zmq.Socket[bytes], acks: zmq.Socket[bytes]) -> None:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(writer.sock, zmq.POLLIN)
        next_alive_check = 0.0
        while True:
            stopping = self._stop.is_set()
            # Read the bus only when there is room: polling a readable socket that is then not
            # read returns at once, and that spin would take the CPU the writer needs.
            can_take = self._held() < MAX_HELD_BATCHES * self.batch_size and len(self._pending) < self.batch_size
            poller.modify(sub, zmq.POLLIN if can_take else 0)
            events = dict(poller.poll(self._timeout(stopping)))
            if events.get(writer.sock):
                for reply in writer.replies():
                    self._on_reply(reply, acks)
            if can_take and (events.get(sub) or stopping):
                self._receive(sub)
            self._dispatch(writer, stopping)
            self.counters.pending = self._held()
            if stopping and not self._pending and not self._rejects and not self._at_writer and \
                    (not self._retry or self.counters.last_error):
                if self._retry:
                    say(f"stopping with {self._held()} records not stored ({self.counters.last_error}); "
                        "producers will send them again", prefix=_PREFIX)
                return
            now = time.monotonic()
            if now >= next_alive_check:  # a wait() system call: a few times a second is enough
                next_alive_check = now + ALIVE_CHECK_S
                if not writer.alive():
                    self._writer_died(writer)

    def _timeout(self, stopping: bool) -> int:
        """How long to wait for the bus or the writer: until the next batch is due, if the writer can take it."""
        if stopping:
            return 10
        now = time.monotonic()
        if self._retry and len(self._at_writer) < MAX_AT_WRITER:
            return max(0, int((self._next_retry - now) * 1000))
        if self._pending and not self._at_writer:
            return 0  # an idle writer takes what there is now
        if self._pending and len(self._at_writer) < MAX_AT_WRITER:
            left = self.batch_interval - (now - self._pending_since)
            return max(0, int(left * 1000))
        return int(ALIVE_CHECK_S * 1000)

    def _receive(self, sub: zmq.Socket[bytes]) -> None:
        """Take what the socket has now, up to a batch."""
        while len(self._pending) < self.batch_size:
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
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
        self.counters.received += len(payloads)
        if not self._pending:
            self._pending_since = time.monotonic()
        decoded: list[Row] = []
        append, decode = decoded.append, wire.decode_row
        record_bytes, message_bytes = self.max_record_bytes, self.max_message_bytes
        for payload in payloads:
            try:
                append(decode(payload, record_bytes, message_bytes))
            except ValidationError as exc:
                self._reject(topic, payload, str(exc))
            except Exception as exc:  # noqa: BLE001 - a decoder bug must not stop the consumer: a counted reject
                self._reject(topic, payload, f"cannot decode: {type(exc).__name__}: {exc}")
        # core.privacy.ingest, before anything is stored (scrub_rows never raises)
        self._pending.extend(self.policy.scrub_rows(decoded) if self.policy.active else decoded)

    def _reject(self, topic: bytes, payload: bytes, reason: str) -> None:
        self.counters.rejected += 1
        self._rejects.append(Reject.of(topic, payload, reason, keep_bytes=self.reject_keep_bytes))

    def _dispatch(self, writer: WriterClient, stopping: bool) -> None:
        """Hand due batches to the writer, at most ``MAX_AT_WRITER`` at a time."""
        now = time.monotonic()
        if self._rejects:
            batch_id = self._new_id()
            writer.send_rejects(batch_id, self._rejects)
            self._at_writer[batch_id] = ("rejects", [], now)
            self._rejects = []
        while len(self._at_writer) < MAX_AT_WRITER:
            if self._retry:
                if now < self._next_retry:
                    return
                records = self._retry.popleft()
            elif self._pending and (not self._at_writer or len(self._pending) >= self.batch_size or stopping
                                    or now - self._pending_since >= self.batch_interval):
                records = self._pending[: self.batch_size]
                del self._pending[: len(records)]
                self._pending_since = now
            else:
                return
            batch_id = self._new_id()
            writer.send_rows(batch_id, encode_rows(records), len(records))
            self._at_writer[batch_id] = ("records", records, now)

    def _new_id(self) -> bytes:
        return next(self._ids).to_bytes(8, "big")

    def _on_reply(self, reply: WriterReply, acks: zmq.Socket[bytes]) -> None:
        entry = self._at_writer.pop(reply.batch_id, None)
        if entry is None:
            return
        kind, records, sent_at = entry
        c = self.counters
        if reply.error is not None:
            c.store_errors += 1
            if c.last_error != reply.error:
                say(f"{reply.error}; holding {self._held() + len(records)} records", prefix=_PREFIX)
            c.last_error = reply.error
            if kind == "records":
                self._retry.appendleft(records)
                self._next_retry = time.monotonic() + RETRY_DELAY_S
            return
        c.last_error = None
        if kind != "records":
            c.rejects_pruned += reply.pruned
            return
        c.stored += reply.stored
        c.duplicates += reply.duplicates
        c.batches += 1
        c.last_batch_ms = (time.monotonic() - sent_at) * 1000
        c.last_commit_at = now_utc()
        newest = parse_utc(records[-1][_TIMESTAMP])
        c.lag_ms = max(0.0, (parse_utc(c.last_commit_at) - newest).total_seconds() * 1000)
        self._send_acks(acks, records)

    def _writer_died(self, writer: WriterClient) -> None:
        """Start a new writer and hand it again what the old one had not answered (the store dedups)."""
        say("the store writer exited; starting a new one", prefix=_PREFIX)
        for kind, records, _ in self._at_writer.values():
            if kind == "records":
                self._retry.append(records)
        self._at_writer.clear()
        try:
            writer.restart()
        except AicoError as exc:
            self.counters.last_error = str(exc)
            self._next_retry = time.monotonic() + RETRY_DELAY_S * 4

    def _send_acks(self, acks: zmq.Socket[bytes], batch: list[Row]) -> None:
        by_producer: dict[str, list[int]] = defaultdict(list)
        for row in batch:
            if row[_PRODUCER_ID] and row[_SEQ]:
                by_producer[row[_PRODUCER_ID]].append(row[_SEQ])
        for producer_id, seqs in by_producer.items():
            try:
                acks.send_multipart([ack_topic(producer_id), encode_ack(producer_id, seqs)], zmq.NOBLOCK)
                self.counters.acks_sent += 1
            except zmq.ZMQError:
                pass  # a lost ack only costs a resend, which the store deduplicates
