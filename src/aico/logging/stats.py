"""A producer's counters, by what happened to records and, for drops, why."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class ProducerStats:
    def __init__(self) -> None:
        self.produced = 0      # taken from the queue by the sender
        self.sent = 0          # first sends
        self.acknowledged = 0  # confirmed stored (or already stored) by the collector
        self.resent = 0        # sent again after a loss or a timeout
        self.spooled = 0       # written to the spool on disk
        self.caller_spooled = 0  # times a logging call moved the full queue to disk itself
        self.os_errors = 0     # rounds of the sender a disk error interrupted (it went on after)
        self.acks_bad = 0      # acknowledgements that could not be read or named another producer
        self.acks_unknown = 0  # acknowledged seqs not in flight (acknowledged before, or forgotten)
        self.ack_timeouts = 0  # times no acknowledgement came in time and the oldest batch went again
        self._dropped: Counter[str] = Counter()
        self._lock = threading.Lock()

    def drop(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._dropped[reason] += n

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            dropped = dict(self._dropped)
        return {
            "produced": self.produced,
            "sent": self.sent,
            "acknowledged": self.acknowledged,
            "resent": self.resent,
            "spooled": self.spooled,
            "caller_spooled": self.caller_spooled,
            "os_errors": self.os_errors,
            "acks_bad": self.acks_bad,
            "acks_unknown": self.acks_unknown,
            "ack_timeouts": self.ack_timeouts,
            "dropped": dropped,
            "dropped_total": sum(dropped.values()),
        }
