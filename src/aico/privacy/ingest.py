"""The ingest policy (``core.privacy.ingest``): what the collector masks before a record is stored.

Every route into the store goes through the collector (the library, the bridge, and any later
route that publishes on the bus), so applying the policy there covers them all:

- ``secrets`` (the default): the secret rules (``detectors.SECRET_RULES``: key material, tokens,
  passwords, cookies, payment cards ...) and ``extra`` fields named like a secret are masked;
  PII is stored as logged (and scrubbed later on every way out);
- ``pii``: every rule, ``drop_fields`` and ``pseudonymize_fields`` as well; PII is masked, or with
  ``pii_action: pseudonymize`` replaced by a keyed pseudonym (``[EMAIL:3f2a9c...]``);
- ``off``: stored as logged. Analytics, exports and downloads still scrub with every rule.

``IngestPolicy.scrub_row`` takes and returns a row in ``COLUMNS`` order (the collector's form);
``IngestPolicy.scrub_record`` a record dict. Both return their argument itself when nothing
was private, and count each mask by rule in ``counts``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from aico.config.settings import Settings
from aico.privacy.detectors import SECRET_RULES
from aico.privacy.rules import PrivacyRules
from aico.privacy.scrubber import Scrubber, load_privacy_key
from aico.schema.record import COLUMNS, Record, Row

_MESSAGE, _EXTRA, _ERROR = (COLUMNS.index(c) for c in ("message", "extra", "error_details"))
UNSCRUBBED = "[UNSCRUBBED: the privacy scrubber failed on this text]"
GROUP = 8  # rows pre-checked in one pass by scrub_rows


class IngestPolicy:
    def __init__(self, settings: Settings) -> None:
        p = settings.core.privacy
        self.mode = p.ingest
        self.scrubber: Scrubber | None = None
        if self.mode == "secrets":
            rules = PrivacyRules(rules=tuple(r for r in p.rules if r in SECRET_RULES),
                                 secret_names=tuple(p.secret_names),
                                 drop_fields=(), pseudonymize_fields=(), keep_local_addresses=p.keep_local_addresses,
                                 keep_private_addresses=p.keep_private_addresses)
            self.scrubber = Scrubber(rules, os.urandom(16))  # no pseudonyms in this mode: the key is never used
        elif self.mode == "pii":
            self.scrubber = Scrubber(PrivacyRules.from_settings(settings), load_privacy_key(settings, create=True))
        self.counts: Counter[str] = self.scrubber.counts if self.scrubber is not None else Counter()
        self._columns = [] if self.scrubber is None else [
            (i, self.scrubber.rules.judge(name)) for i, name in enumerate(COLUMNS)
            if name not in ("message", "extra", "error_details", "timestamp", "level", "producer_id", "seq")
            and self.scrubber.rules.judge(name) in ("drop", "pseudonymize")
        ]

    @property
    def active(self) -> bool:
        return self.scrubber is not None

    def scrub_row(self, row: Row) -> Row:
        """``row`` with the policy applied (the same tuple when nothing changed); never raises.

        A text the scrubber fails on is replaced whole by ``UNSCRUBBED`` (and counted as
        ``scrub_error``): the record is kept, and nothing unchecked is stored.
        """
        s = self.scrubber
        if s is None:
            return row
        message, extra, error = row[_MESSAGE], row[_EXTRA], row[_ERROR]
        try:
            if not self._columns and not s.might_change([message] if message else [],
                                                        [t for t in (extra, error) if t]):
                return row  # a pre-check pass over the texts: most records end here
        except Exception:  # noqa: BLE001 - the pre-check failing: counted; run the detectors (each guarded below)
            self.counts["precheck_error"] += 1
        new_message = self._safe(s.scrub_text, message) if message else message
        new_extra = self._safe(s.scrub_json, extra) if extra else extra
        new_error = self._safe(s.scrub_json, error) if error else error
        if new_message is message and new_extra is extra and new_error is error and not self._columns:
            return row
        out = list(row)
        out[_MESSAGE], out[_EXTRA], out[_ERROR] = new_message, new_extra, new_error
        for i, verdict in self._columns:
            if out[i] is None:
                continue
            if verdict == "drop":
                out[i] = None
                self.counts["dropped_field"] += 1
            elif isinstance(out[i], str):
                out[i] = s.pseudonymize(out[i])
        return tuple(out)

    def scrub_rows(self, rows: list[Row]) -> list[Row]:
        """``scrub_row`` of each row, with one pre-check pass per group of ``GROUP`` rows.

        A pass over the joined texts of a group costs little more than a pass over one row's
        (the call dominates), so a group with nothing private (most of them) is done in two
        steps (its messages, its JSON texts); only the rows of a group that matched are looked at one by one.
        """
        s = self.scrubber
        if s is None or self._columns:
            return rows if s is None else [self.scrub_row(r) for r in rows]
        out = []
        for start in range(0, len(rows), GROUP):
            group = rows[start:start + GROUP]
            texts = [r[_MESSAGE] for r in group if r[_MESSAGE]]
            json_texts = [t for r in group for t in (r[_EXTRA], r[_ERROR]) if t]
            try:
                clean = not s.might_change(texts, json_texts)
            except Exception:  # noqa: BLE001 - the pre-check failing: counted; look at each row (scrub_row never raises)
                self.counts["precheck_error"] += 1
                clean = False
            out.extend(group if clean else [self.scrub_row(r) for r in group])
        return out

    def scrub_record(self, record: Record) -> Record:
        """A record dict with the policy applied (the same dict when the policy is off)."""
        if self.scrubber is None:
            return record
        row = tuple(record.get(name) for name in COLUMNS)
        out = self.scrub_row(row)
        if out is row:
            return record
        return {**record, **dict(zip(COLUMNS, out, strict=True))}

    def _safe(self, fn: Any, text: Any) -> Any:
        try:
            return fn(text)
        except Exception:  # noqa: BLE001 - a scrubber bug must neither lose the record nor store what it could not check
            self.counts["scrub_error"] += 1
            return UNSCRUBBED

    def figures(self) -> dict[str, int]:
        """The counts by rule, copied safely while the collector thread adds to them."""
        for _ in range(5):
            try:
                return dict(self.counts)
            except RuntimeError:  # changed size during the copy
                continue
        return {}
