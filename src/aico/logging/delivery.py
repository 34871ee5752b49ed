"""How the sender gets records onto the wire: the parts every delivery shares, and fire and forget.

A delivery takes the encoded records the sender drained from the queue (``take``), sends
what it holds (``send``), and settles what came back (``settle``: acknowledgements, resends).
``reliable.py`` holds the default one (spool, window, acknowledgements); ``FireAndForget``
here numbers records and sends them once, keeping at most a queue's worth the socket refused.
Both are used by the one sender thread only.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, Protocol

from aico.config.settings import Producer as ProducerConfig
from aico.logging.receipts import ON_DISK, Outcome
from aico.logging.relay import Item, OwnStamps, RelayStamps
from aico.logging.stats import ProducerStats
from aico.logging.transport import Transport
from aico.schema import wire
from aico.schema.record import Record, topic_for

DRAIN_MAX = 2000
_TOPIC = itemgetter(0)
NO_SPOOL: dict[str, Any] = {"spool_bytes": 0, "spool_memory_bytes": 0, "spool_memory_only": False,
                            "spool_disk_errors": 0, "spool_bad_frames": 0, "spool_disk_error": None}


class Delivery(Protocol):
    producer_id: str
    stamps: OwnStamps | RelayStamps
    acks: bool  # whether the collector acknowledges (the transport subscribes for them)
    linger_s: float  # what the socket may keep sending after close
    spools: bool  # whether a caller may move a full queue to the spool itself

    def take(self, items: list[tuple[bytes, bytes]]) -> Outcome: ...
    def send(self, transport: Transport) -> None: ...
    def settle(self, transport: Transport, acks: list[bytes], now: float) -> None: ...
    def wants_to_send(self) -> bool: ...
    def idle(self) -> bool: ...
    def backlog_size(self) -> int: ...
    def inflight(self) -> int: ...
    def over_bound(self) -> bool: ...
    def figures(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


def encode(records: list[Record], subsystem: str, stamps: OwnStamps | RelayStamps,
           stats: ProducerStats) -> list[tuple[bytes, bytes]]:
    """``(topic, payload)`` per record, grouped by topic (records of one topic keep their order).

    Grouped before they get their seqs: a bus message (one topic) then carries consecutive
    seqs, and the collector's acknowledgement of a batch is a few ranges, not one per record.
    A record that cannot be encoded is dropped and counted.
    """
    out = []
    keep = stamps.keeps_stamps
    for record in records:
        try:
            topic = topic_for(record.get("subsystem") or subsystem, record["module"])
            out.append((topic, wire.encode(record, stamp=keep)))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            stats.drop("encode_error")
    out.sort(key=_TOPIC)
    return out


def transmit(transport: Transport, items: Sequence[Item], batch_size: int, stamps: OwnStamps | RelayStamps,
             on_sent: Callable[[list[Item]], None]) -> tuple[int, list[Item]]:
    """Send ``items``, one message per topic (at most ``batch_size`` records each).

    Returns how many went and what the socket refused (it is full). ``on_sent`` hears each
    message sent, in the order messages go on the wire (the loss detection relies on it).
    """
    groups: dict[bytes, list[Item]] = {}
    for item in items:
        groups.setdefault(item[1], []).append(item)
    unsent: list[Item] = []
    count = 0
    for topic, group in groups.items():
        for k in range(0, len(group), batch_size):
            chunk = group[k : k + batch_size]
            if unsent or not transport.send(topic, stamps.frames(chunk)):
                unsent.extend(chunk)  # once the socket refuses, keep the rest for later
                continue
            count += len(chunk)
            on_sent(chunk)
    return count, unsent


class FireAndForget:
    """No spool and no acknowledgements: each record goes once; what a full socket refuses
    waits in memory up to the queue's bound, past it it is dropped and counted."""

    acks = False
    linger_s = 1.0
    spools = False

    def __init__(self, cfg: ProducerConfig, stats: ProducerStats, stamps: OwnStamps | RelayStamps | None = None,
                 producer_id: str | None = None) -> None:
        self.cfg = cfg
        self.stats = stats
        self.producer_id = producer_id or uuid.uuid4().hex
        self.stamps = OwnStamps(self.producer_id) if stamps is None else stamps
        self._next_seq = 1
        self._backlog: deque[Item] = deque()

    def take(self, items: list[tuple[bytes, bytes]]) -> Outcome:
        for topic, payload in items:
            self._backlog.append((self._next_seq, topic, payload))
            self._next_seq += 1
        return ON_DISK  # fire and forget: taken is all there is

    def send(self, transport: Transport) -> None:
        if not transport.ready() or not self._backlog:
            return
        backlog = self._backlog
        batch = [backlog.popleft() for _ in range(min(DRAIN_MAX, len(backlog)))]
        sent, unsent = transmit(transport, batch, self.cfg.batch_size, self.stamps, _nothing)
        self.stats.sent += sent
        backlog.extendleft(reversed(unsent))
        if unsent and len(backlog) > self.cfg.queue_size:  # not kept beyond the queue's bound
            extra = len(backlog) - self.cfg.queue_size
            for _ in range(extra):
                backlog.pop()
            self.stats.drop("bus_full", extra)

    def settle(self, transport: Transport, acks: list[bytes], now: float) -> None:
        return

    def wants_to_send(self) -> bool:
        return bool(self._backlog)

    def idle(self) -> bool:
        return not self._backlog

    def backlog_size(self) -> int:
        return len(self._backlog)

    def inflight(self) -> int:
        return 0

    def over_bound(self) -> bool:
        return False

    def figures(self) -> dict[str, Any]:
        return NO_SPOOL

    def close(self) -> None:
        return


def _nothing(chunk: list[Item]) -> None:
    return
