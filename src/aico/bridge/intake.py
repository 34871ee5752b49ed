"""Judging frontend records one by one, and handing the good ones to the producer.

A record keeps what the frontend sent (timestamp, module, function, file, line, topic,
trace and session ids); ``origin`` and ``subsystem`` get the bridge's defaults only when
missing. A frontend that wants re-sends stored once stamps each record with its own
``producer_id`` (stable for the records it made: one per page load will do) and ``seq``
(rising from 1); the bridge stores them under ``frontend:<producer_id>`` with that seq, and
the store keeps one copy of each stamp. Records with no stamp are stamped by the relay.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from aico.config.settings import Settings
from aico.errors import FieldError, NotDurableError, OverloadedError, PayloadTooLargeError, ValidationError
from aico.schema.record import Record, dumps, normalize

RELAY_PREFIX = "frontend:"
PRODUCER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
MAX_SEQ = 2**63 - 1


class Sink(Protocol):
    """Where accepted records go: the relaying ``Producer``."""

    def offer_durable(self, records: Sequence[Record]) -> Future[bool] | None:
        """All of ``records`` or none (None when full), with a receipt: True once they are durable."""

    def pressure(self, extra: int = 0) -> bool:
        """True when ``extra`` more records would pass its bounds (then a batch is not even judged)."""


@dataclass
class Judgement:
    records: list[Record] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index": i, "errors": [...]}


class Counters:
    def __init__(self) -> None:
        self.batches = 0
        self.accepted = 0  # records answered 2xx: each durable (on the bridge's spool, or stored) by then
        self.not_durable = 0  # requests answered 503: their records were not durable within durable_timeout_s
        self.rejected = 0
        self.overloaded = 0
        self.refused = 0  # whole requests refused: auth, limits, malformed bodies
        self.errors = 0  # unexpected errors: a 500 or a WebSocket close 1011 (never a dropped connection)
        self.disconnects = 0  # clients gone before their body was read whole
        self.timeouts = 0  # connections closed for not sending a whole request within request_timeout_s
        self.otlp_requests = 0  # OTLP exports taken (POST /v1/logs); their records count in accepted/rejected

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def field_errors(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


class Intake:
    def __init__(self, settings: Settings, sink: Sink) -> None:
        self.cfg = settings.core.bridge
        self.max_record_bytes = settings.core.logging.max_record_bytes
        self.max_message_bytes = self.cfg.max_message_bytes
        self.origin, self.subsystem = self.cfg.origin, self.cfg.subsystem
        self.sink = sink
        self.counters = Counters()

    def record(self, raw: Any) -> Record:
        """One frontend record, normalised; ``ValidationError`` lists every field that is wrong."""
        if not isinstance(raw, dict):
            raise ValidationError([FieldError("record", f"must be a JSON object, got {_json_type(raw)}")])
        raw = dict(raw)
        if not raw.get("origin"):
            raw["origin"] = self.origin
        if not raw.get("subsystem"):
            raw["subsystem"] = self.subsystem
        pid, seq = raw.pop("producer_id", None), raw.pop("seq", None)
        errors = _stamp_errors(pid, seq) if pid is not None or seq is not None else []
        try:
            record = normalize(raw, max_message_bytes=self.max_message_bytes)
        except ValidationError as exc:
            raise ValidationError(exc.errors + errors) from None
        if errors:
            raise ValidationError(errors)
        if pid is not None:
            record["producer_id"], record["seq"] = RELAY_PREFIX + pid, seq
        return record

    def judge(self, raws: Sequence[Any], body_bytes: int) -> Judgement:
        """Each record on its own: the valid ones, and each rejected index with its field errors."""
        out = Judgement()
        check_size = body_bytes > self.max_record_bytes  # a smaller body cannot hold a record past the limit
        for index, raw in enumerate(raws):
            try:
                if check_size:
                    self._check_record_size(raw)
                out.records.append(self.record(raw))
            except ValidationError as exc:
                out.rejected.append({"index": index, "errors": field_errors(exc.errors)})
        return out

    def _check_record_size(self, raw: Any) -> None:
        size = len(dumps(raw).encode())
        if size > self.max_record_bytes:
            raise ValidationError([FieldError(
                "record", f"{size} bytes is over the {self.max_record_bytes}-byte record limit "
                "(core.logging.max_record_bytes)")])

    def single(self, raw: Any) -> Record:
        """A record posted alone: 413 for a message past the limit, 422 for any other field error."""
        message = raw.get("message") if isinstance(raw, dict) else None
        if isinstance(message, str) and len(message) * 4 > self.cfg.max_message_bytes:
            size = len(message.encode())
            if size > self.cfg.max_message_bytes:
                raise PayloadTooLargeError(
                    f"message of {size} bytes is over the limit of {self.cfg.max_message_bytes} bytes "
                    "(core.bridge.max_message_bytes)"
                )
        return self.record(raw)

    async def hand_over(self, records: list[Record]) -> None:
        """Into the producer's keeping, all of them, or ``OverloadedError`` (429) and none; returns
        once they are durable (on its spool, or stored), else ``NotDurableError`` (503): a 2xx
        that follows is never lost to a crash of the bridge."""
        if not records:
            return
        receipt = self.sink.offer_durable(records)
        if receipt is None:
            raise self._overloaded(len(records))
        if not await durable(receipt, self.cfg.durable_timeout_s):
            self.counters.not_durable += 1
            raise NotDurableError(
                f"{len(records)} records were not on the bridge's spool within {self.cfg.durable_timeout_s:g}s "
                f"(core.bridge.durable_timeout_s): send again after {self.cfg.retry_after_s}s",
                self.cfg.retry_after_s)
        self.counters.accepted += len(records)

    def check_room(self) -> None:
        """``OverloadedError`` (429) now if the producer has no room for even one record: the
        request's body need not be read and parsed."""
        if self.sink.pressure(1):
            raise self._overloaded()

    def _overloaded(self, count: int | None = None) -> OverloadedError:
        self.counters.overloaded += 1
        what = "" if count is None else f" ({count} records not taken)"
        return OverloadedError(
            f"the bridge's producer is full{what}: send again after {self.cfg.retry_after_s}s",
            self.cfg.retry_after_s,
        )

    async def batch(self, raws: Sequence[Any], body_bytes: int) -> Judgement:
        """Judge a batch and hand its valid records over; the counters follow.

        A batch the producer has no room for is refused before it is judged: under load a
        client sends it again after Retry-After, and judging it twice would be wasted work."""
        if self.sink.pressure(len(raws)):
            raise self._overloaded(len(raws))
        judged = self.judge(raws, body_bytes)
        await self.hand_over(judged.records)
        self.counters.batches += 1
        self.counters.rejected += len(judged.rejected)
        return judged


async def durable(receipt: Future[bool], timeout_s: float) -> bool:
    """Whether ``receipt`` (settled by the producer's sender thread) says True within ``timeout_s``."""
    if receipt.done():
        return receipt.result()
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bool] = loop.create_future()

    def wake(done: Future[bool]) -> None:  # the sender thread: hand the answer to the event loop
        try:
            loop.call_soon_threadsafe(_answer, waiter, done.result())
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    receipt.add_done_callback(wake)
    try:
        return await asyncio.wait_for(waiter, timeout_s)
    except TimeoutError:
        return False


def _answer(waiter: asyncio.Future[bool], ok: bool) -> None:
    if not waiter.done():  # not timed out meanwhile
        waiter.set_result(ok)


def _stamp_errors(pid: Any, seq: Any) -> list[FieldError]:
    if pid is None and seq is None:
        return []
    errors = []
    if pid is None:
        errors.append(FieldError("producer_id", "is required with seq"))
    elif not isinstance(pid, str) or not PRODUCER_ID.match(pid):
        errors.append(FieldError("producer_id", "must be 1-128 characters of letters, digits and . _ : -"))
    if seq is None:
        errors.append(FieldError("seq", "is required with producer_id"))
    elif isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        errors.append(FieldError("seq", "must be an integer from 1 to 2^63-1"))
    return errors


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), type(value).__name__)
