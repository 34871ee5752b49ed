"""The scrubber: masks private values in text and JSON, pseudonymises ids, drops fields.

``Scrubber.scrub_record`` works on one stored record (the ingest path can call it before a
record is written); the analytics ETL calls ``scrub_text``/``scrub_json`` only on values that
match ``text_precheck``/``json_precheck``, which it evaluates in bulk inside DuckDB, and hashes
each distinct id once (``pseudonym``). Text that does not match the pre-check is returned
unchanged, by construction.

Every change is counted by rule in ``counts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter
from typing import Any

from aico.config.settings import Settings
from aico.keys import load_key
from aico.privacy.detectors import Detector, build_detectors, words_pattern
from aico.privacy.precheck import QuickSet
from aico.privacy.rules import DROP, PSEUDONYMIZE, SECRET, PrivacyRules
from aico.schema.record import COLUMNS, Record

SECRET_MASK = "[SECRET]"
PSEUDONYM_CHARS = 32  # 128 bits of HMAC-SHA256: collisions are not a concern for joins
_BIG_INT = 10**12  # integers this large may be card numbers written without quotes


#: JSON escapes (RE2 and Python): the pre-checks of JSON text run on it with each escape made a space,
#: so "\\n+1 202..." still shows a phone number after a line break (``unescape_for_precheck``).
JSON_ESCAPES = r'\\(?:[nrtbf"/\\]|u[0-9a-fA-F]{4})'
_JSON_ESCAPES = re.compile(JSON_ESCAPES)


def unescape_for_precheck(text: str) -> str:
    """``text`` with every JSON escape made one space: what ``json_precheck`` is matched against."""
    return _JSON_ESCAPES.sub(" ", text) if "\\" in text else text


def load_privacy_key(settings: Settings, *, create: bool) -> bytes:
    """The HMAC key of pseudonyms: kept like the database key (``AICO_PRIVACY_KEY`` overrides)."""
    return load_key(settings, "privacy", create=create, env_var="AICO_PRIVACY_KEY").encode()


class Scrubber:
    def __init__(self, rules: PrivacyRules, key: bytes) -> None:
        if not key:
            raise ValueError("the pseudonym key must not be empty")
        self.rules = rules
        self.detectors: list[Detector] = build_detectors(
            rules.rules, rules.secret_names, keep_local=rules.keep_local_addresses,
            keep_private=rules.keep_private_addresses,
        )
        self.counts: Counter[str] = Counter()
        #: PII in text replaced by its mask plus a keyed pseudonym (``[EMAIL:3f2a...]``), not the mask alone
        self.pseudonymize_pii = rules.pii_action == "pseudonymize"
        self._key = key
        self._pseudonyms: dict[str, str] = {}
        quick = [d.quick for d in self.detectors]
        #: RE2-compatible pre-checks, one per detector, in ``detectors`` order.
        self.quick_patterns: tuple[str, ...] = tuple(quick)
        #: RE2-compatible: text that does not match it is never changed by ``scrub_text``.
        self.text_precheck = "|".join(quick) if quick else r"[^\s\S]"
        names = words_pattern(rules.name_words())
        #: RE2-compatible: JSON text that does not match it (after ``unescape_for_precheck``) is never
        #: changed by ``scrub_json``.
        self.json_precheck = "|".join([*quick, f"(?i:{names})"] if names else quick) or r"[^\s\S]"
        self._quick = [(d, re.compile(d.quick, re.ASCII)) for d in self.detectors]
        #: one RE2 pass for every pre-check; for JSON, one more pattern (the last bit) for the names
        self._text_set = QuickSet(quick)
        self._json_set = QuickSet([*quick, f"(?i:{names})"] if names else quick)
        self._all_text = (1 << len(quick)) - 1
        self._names_bit = 1 << len(quick) if names else 0

    @classmethod
    def from_settings(cls, settings: Settings, *, create_key: bool = False) -> Scrubber:
        return cls(PrivacyRules.from_settings(settings), load_privacy_key(settings, create=create_key))

    @classmethod
    def for_output(cls, settings: Settings) -> Scrubber:
        """The scrubber for every way out of the store (exports, OTLP, downloads): all of ``core.privacy``.

        Call ``scrub_record`` on each record (a dict of ``aico.schema.record.COLUMNS``, extra keys
        such as ``id`` pass through). Its pseudonyms are the analytics ones (same key, made if missing).
        """
        return cls.from_settings(settings, create_key=True)

    # -- text ------------------------------------------------------------------------------
    def might_contain(self, text: str) -> bool:
        return self._text_set.flags(text) != 0

    def might_need(self, *texts: str | None) -> bool:
        """Whether any of ``texts`` (plain or JSON) could be changed: one pre-check pass over them all.

        False means ``scrub_text`` and ``scrub_json`` would return each of them unchanged.
        """
        joined = "\n".join(unescape_for_precheck(t) for t in texts if t)
        return bool(joined) and self._json_set.flags(joined) != 0

    def might_change(self, texts: list[str], json_texts: list[str]) -> bool:
        """Whether ``scrub_text`` could change any of ``texts`` or ``scrub_json`` any of ``json_texts``.

        Each kind gets the pre-check its scrub applies (the text set on the text as it is; the JSON
        set, with the field names, on the unescaped JSON), so False means exactly that both would
        return each text unchanged. Names matter in JSON only: ``might_need`` checks every text
        against them too, and a message saying "4000 tokens" then went through every detector.
        """
        if texts and self._text_set.flags("\n".join(texts)):
            return True
        return bool(json_texts) and self._json_set.flags("\n".join(map(unescape_for_precheck, json_texts))) != 0

    def flags(self, text: str) -> int:
        """A bit per detector whose pre-check matches ``text`` (bit ``i``: ``quick_patterns[i]``)."""
        return self._text_set.flags(text) if text else 0

    def scrub_text(self, text: str) -> str:
        """``text`` with every private value the detectors find replaced by its mask."""
        if not text:
            return text
        flags = self._text_set.flags(text)
        return self.scrub_text_flagged(text, flags) if flags else text

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """``(start, end, rule)`` of each private value in ``text`` (positions in ``text`` as given).

        What ``scrub_text`` would mask, found without changing the text (for measuring and
        highlighting). Detectors run in order on the text with earlier finds blanked out.
        """
        spans: list[tuple[int, int, str]] = []
        flags = self.flags(text)
        work = text
        for i, (detector, quick) in enumerate(self._quick):
            if not flags >> i & 1 or not quick.search(work):
                continue
            validate = detector.validate
            for m in detector.pattern.finditer(work):
                if validate is not None and not validate(m, work):
                    continue
                groups = m.groupdict()
                start = m.start() + len(groups.get("keep") or groups.get("keep2") or "")
                if start < m.end():
                    spans.append((start, m.end(), detector.name))
            for start, end, _ in spans:
                work = work[:start] + "\x00" * (end - start) + work[end:]
        return sorted(spans)

    def scrub_text_flagged(self, text: str, flags: int) -> str:
        """``scrub_text`` running only the detectors whose bit is set in ``flags``.

        Bit ``i`` stands for ``quick_patterns[i]``; a caller that evaluated those patterns in
        bulk (the ETL, in DuckDB) skips running them again here.
        """
        for i, detector in enumerate(self.detectors):
            if flags >> i & 1:
                text = detector.pattern.sub(self._replacer(detector, text), text)
        return text

    def _replacer(self, detector: Detector, text: str) -> Any:
        validate, counts, mask = detector.validate, self.counts, detector.mask
        pseudo = self.pseudonymize_pii

        def replace(m: re.Match[str]) -> str:
            if validate is not None and not validate(m, text):
                return m.group(0)
            counts[detector.name] += 1
            groups = m.groupdict()
            keep = groups.get("keep") or groups.get("keep2") or ""
            if pseudo and detector.kind == "pii":
                return keep + mask[:-1] + ":" + self.pseudonym(m.group(0)[len(keep):])[:12] + "]"
            return keep + mask

        return replace

    # -- ids -------------------------------------------------------------------------------
    def pseudonymize(self, value: str) -> str:
        """A keyed hash (HMAC-SHA256) of ``value``: the same id always gives the same pseudonym."""
        self.counts["pseudonymized"] += 1
        return self.pseudonym(value)

    def pseudonym(self, value: str) -> str:
        """``pseudonymize`` without counting (for a caller that hashes each distinct value once)."""
        cached = self._pseudonyms.get(value)
        if cached is None:
            cached = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]
            if len(self._pseudonyms) < 100_000:
                self._pseudonyms[value] = cached
        return cached

    # -- JSON ------------------------------------------------------------------------------
    def scrub_json(self, text: str | None, *, scan: bool | None = None) -> str | None:
        """Scrubbed JSON text of an object: the same text when nothing was private.

        A caller that already matched ``json_precheck`` (and ``text_precheck``, giving ``scan``)
        against ``unescape_for_precheck(text)`` passes ``scan`` and skips both here.
        """
        if not text:
            return text
        if scan is None:
            flags = self._json_set.flags(unescape_for_precheck(text))
            if not flags:
                return text
            scan = flags & self._all_text != 0
        try:
            value = json.loads(text)
        except ValueError:
            self.counts["invalid_json"] += 1
            return self.scrub_text(text)
        # only names matched (scan false): the strings inside need no detector, just the walk
        changed, out = self.scrub_value(value, scan=scan)
        if not changed:
            return text
        if out is None or out == {}:
            return None
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))

    def scrub_value(self, value: Any, *, scan: bool = True) -> tuple[bool, Any]:
        """``(changed, value)``: objects walked recursively, names judged, strings scrubbed (if ``scan``)."""
        if isinstance(value, str):
            if not scan:
                return False, value
            out = self.scrub_text(value)
            return out is not value and out != value, out
        if isinstance(value, dict):
            return self._scrub_object(value, scan)
        if isinstance(value, list):
            changed, items = False, []
            for item in value:
                c, v = self.scrub_value(item, scan=scan)
                changed |= c
                items.append(v)
            return changed, items
        if scan and isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _BIG_INT:
            masked = self.scrub_text(str(value))
            return (True, masked) if masked != str(value) else (False, value)
        return False, value

    def _scrub_object(self, obj: dict[str, Any], scan: bool) -> tuple[bool, dict[str, Any]]:
        judge, changed, out = self.rules.judge, False, dict[str, Any]()
        for key, value in obj.items():
            verdict = judge(key)
            if verdict == DROP:
                self.counts["dropped_field"] += 1
                changed = True
                continue
            new_key = self.scrub_text(key) if scan else key
            changed |= new_key != key
            if value is None:
                out[new_key] = None
            elif verdict == SECRET:
                out[new_key] = SECRET_MASK
                if value != SECRET_MASK:
                    self.counts["secret_field"] += 1
                    changed = True
            elif verdict == PSEUDONYMIZE and isinstance(value, str | int) and not isinstance(value, bool):
                out[new_key] = self.pseudonymize(str(value))
                changed = True
            else:
                c, out[new_key] = self.scrub_value(value, scan=scan)
                changed |= c
        return changed, out

    # -- records ---------------------------------------------------------------------------
    def scrub_record(self, record: Record) -> Record:
        """A scrubbed copy of a stored record (``aico.schema.record.COLUMNS``)."""
        out = dict(record)
        for name in COLUMNS:
            if out.get(name) is None:
                continue
            if self.rules.is_dropped(name):
                out[name] = None
                self.counts["dropped_field"] += 1
            elif self.rules.is_pseudonymized(name):
                out[name] = self.pseudonymize(str(out[name]))
        if out.get("message"):
            out["message"] = self.scrub_text(out["message"])
        for name in ("extra", "error_details"):
            if out.get(name):
                out[name] = self.scrub_json(out[name])
        return out
