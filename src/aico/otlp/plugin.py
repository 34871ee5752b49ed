"""Plugin ``log_otlp_export``: forwards stored records, in id order, to an OTLP/HTTP endpoint.

A thread reads ``batch_size`` records after the watermark, sends them as one request and,
once the endpoint answers 200, moves the watermark past them (``watermark.py``, fsynced).
After a restart, a crash or an outage it resumes from there: nothing is skipped, and only
the batch that was in flight when it stopped may arrive twice (each record carries its
``aico.producer_id``/``aico.seq`` so a receiver can drop that copy; our bridge does).
Failures back off exponentially with jitter from ``min_backoff_s`` to ``max_backoff_s``,
waiting at least what a ``Retry-After`` asks. With ``scrub: true`` each record goes through
``aico.privacy.Scrubber`` before it is encoded.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from aico.config.settings import Settings
from aico.errors import AicoError
from aico.otlp.client import OtlpClient, Outcome
from aico.otlp.encode import encode
from aico.otlp.watermark import Watermark
from aico.privacy import Scrubber
from aico.recursion_guard import infrastructure_thread
from aico.schema.record import COLUMNS, Record
from aico.schema.timestamps import now_utc
from aico.stderr import say
from aico.store import LogStore

SELECT = f"SELECT id, {', '.join(COLUMNS)} FROM logs WHERE id > ? ORDER BY id LIMIT ?"
MAX_RETRY_AFTER_S = 3600.0


def _say(message: str) -> None:
    say(message, prefix="[aico otlp export]")


class OtlpExportPlugin:
    name = "log_otlp_export"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.core.otlp_export
        self.watermark = Watermark(settings.path(self.cfg.watermark))
        self.client: OtlpClient | None = None
        self.scrubber: Scrubber | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = "stopped"
        self.last_id: int | None = None
        self.max_id = 0
        self.exported = 0
        self.batches = 0
        self.retries = 0
        self.refused_by_endpoint = 0  # records the endpoint rejected for good (partial_success, 400)
        self.backoff_s = 0.0
        self.last_error: str | None = None  # kept after later successes, with its time
        self.last_error_at: str | None = None
        self.last_success_at: str | None = None

    # -- the plugin contract -------------------------------------------------------------------
    def start(self) -> None:
        self.client = OtlpClient(self.cfg)  # ConfigError now, not later, for a missing endpoint or bad TLS files
        if self.cfg.scrub:
            self.scrubber = Scrubber.from_settings(self.settings, create_key=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="aico-otlp-export", daemon=True)
        self._thread.start()
        self._state = "running"

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and not (self._thread and self._thread.is_alive()):
            state = "failed"
        return {
            "state": state, "endpoint": self.cfg.endpoint, "watermark": self.last_id,
            "lag_records": max(0, self.max_id - (self.last_id or 0)), "exported": self.exported,
            "batches": self.batches, "retries": self.retries, "refused_by_endpoint": self.refused_by_endpoint,
            "backoff_s": round(self.backoff_s, 2), "last_success_at": self.last_success_at,
            "last_error": self.last_error, "last_error_at": self.last_error_at, "scrub": self.cfg.scrub,
        }

    # -- the loop ------------------------------------------------------------------------------
    def _loop(self) -> None:
        with infrastructure_thread():
            store = self._open()
            if store is None:
                return
            try:
                self._run(store)
            except Exception as exc:  # a bug: say so in the status rather than die silently
                self._error(f"stopped: {type(exc).__name__}: {exc}")
                _say(f"stopped: {type(exc).__name__}: {exc}")
                raise
            finally:
                store.close()

    def _open(self) -> LogStore | None:
        while not self._stop.is_set():
            try:
                return LogStore.open(self.settings)
            except AicoError as exc:
                self._error(str(exc))
                self._stop.wait(self.cfg.interval_s)
        return None

    def _run(self, store: LogStore) -> None:
        self.max_id = store.max_id()
        self.last_id = self.watermark.load()
        if self.last_id is not None and self.last_id > self.max_id:
            # ids only grow (AUTOINCREMENT): a watermark past the newest id belongs to a store that was replaced
            _say(f"watermark {self.last_id} is past the store's newest id {self.max_id}: a new store, exported "
                 "from its first record")
            self.last_id = 0
            self.watermark.save(0, self.cfg.endpoint or "")
        if self.last_id is None:
            self.last_id = self.max_id if self.cfg.start_at == "end" else 0
            self.watermark.save(self.last_id, self.cfg.endpoint or "")
        limit = self.cfg.batch_size
        while not self._stop.is_set():
            self.max_id = store.max_id()  # for the lag in the status: max(id) is one index lookup
            rows = list(store.iter_rows(SELECT, [self.last_id, limit]))
            if not rows:
                self._stop.wait(self.cfg.interval_s)
                continue
            outcome = self._send(rows)
            if outcome.ok or not (outcome.retry or outcome.too_large):
                self._advance(rows, outcome)
                if len(rows) < limit:
                    self._stop.wait(self.cfg.interval_s)
            elif outcome.too_large and len(rows) > 1:
                limit = max(1, len(rows) // 2)  # the endpoint's limit: halves until it takes them
            else:
                self._back_off(outcome)

    def _send(self, rows: list[dict[str, Any]]) -> Outcome:
        records: list[Record] = [{c: row[c] for c in COLUMNS} for row in rows]
        if self.scrubber is not None:
            records = [self.scrubber.scrub_record(r) for r in records]
        assert self.client is not None
        return self.client.send(encode(records))

    def _advance(self, rows: list[dict[str, Any]], outcome: Outcome) -> None:
        last = rows[-1]["id"]
        self.watermark.save(last, self.cfg.endpoint or "")
        self.batches += 1
        self.backoff_s = 0.0
        if outcome.ok:
            self.exported += len(rows) - outcome.rejected
            self.refused_by_endpoint += outcome.rejected
            self.last_success_at = now_utc()
            if outcome.error:  # partial_success's message
                self._error(outcome.error)
        else:  # the endpoint will never take these: counted, said, and passed
            self.refused_by_endpoint += len(rows)
            self._error(outcome.error)
            _say(f"{len(rows)} records refused for good: {outcome.error}")
        self.last_id = last  # last: the status shows a watermark only with its counters

    def _error(self, text: str) -> None:
        self.last_error, self.last_error_at = text, now_utc()

    def _back_off(self, outcome: Outcome) -> None:
        self.retries += 1
        self._error(outcome.error)
        step = self.cfg.min_backoff_s if not self.backoff_s else min(self.backoff_s * 2, self.cfg.max_backoff_s)
        self.backoff_s = step
        wait = step * random.uniform(0.5, 1.0)
        if outcome.retry_after_s is not None:
            wait = max(wait, min(outcome.retry_after_s, MAX_RETRY_AFTER_S))
        self._stop.wait(wait)


def create(settings: Settings) -> OtlpExportPlugin:
    return OtlpExportPlugin(settings)
