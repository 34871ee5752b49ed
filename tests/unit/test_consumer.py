"""The log consumer's loop decisions, without sockets: when it waits, and for how long.

The row's fixed timestamp is never compared with the clock.
"""

from __future__ import annotations

import time

from aico.collector.consumer import ALIVE_CHECK_S, MAX_AT_WRITER, LogConsumer
from aico.config.settings import Settings

ROW = ("2026-11-21T04:00:00.000000Z", "INFO") + (None,) * 17


def test_waits_for_the_writer_when_it_holds_all_it_may(settings: Settings) -> None:
    """With a batch due but the writer holding MAX_AT_WRITER batches, the loop waits for the
    writer's answer instead of polling again at once (that spin took the writer's CPU)."""
    consumer = LogConsumer(settings)
    consumer._pending = [ROW] * consumer.batch_size
    consumer._pending_since = 0.0  # long due
    assert consumer._timeout(stopping=False) == 0  # the writer can take it: dispatch now
    for k in range(MAX_AT_WRITER):
        consumer._at_writer[bytes([k])] = ("records", [ROW], 0.0)
    assert consumer._timeout(stopping=False) == int(ALIVE_CHECK_S * 1000)


def test_an_idle_writer_gets_records_at_once_a_busy_one_a_grown_batch(settings: Settings) -> None:
    """Group commit: with the writer idle, what has arrived goes now; with the writer busy, a young
    batch waits for its interval (or to fill) before it takes the writer's second place."""
    consumer = LogConsumer(settings)
    assert consumer._timeout(stopping=False) == int(ALIVE_CHECK_S * 1000)  # nothing held
    consumer._pending = [ROW]
    consumer._pending_since = time.monotonic()
    assert consumer._timeout(stopping=False) == 0
    consumer._at_writer[b"1"] = ("records", [ROW], 0.0)
    assert 0 < consumer._timeout(stopping=False) <= settings.core.logging.consumer.batch_interval_ms
