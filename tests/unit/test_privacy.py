"""The privacy scrubber: the corpus (recall and precision), properties, names, keys, records."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from aico.config import Settings
from aico.errors import ConfigError
from aico.privacy import PrivacyRules, Scrubber
from aico.privacy.detectors import DETECTOR_NAMES, luhn_ok
from aico.privacy.scrubber import JSON_ESCAPES, unescape_for_precheck
from aico.schema.record import normalize

from support import examples, stamp

CORPUS = [json.loads(line) for line in
          (Path(__file__).parent.parent / "data" / "privacy_corpus.jsonl").read_text(encoding="utf-8").splitlines()]
KEY = b"corpus-test-key"
DEFAULT_RULES = PrivacyRules(
    rules=DETECTOR_NAMES,
    secret_names=("password", "passwd", "pwd", "passphrase", "secret", "token", "api_key", "apikey", "access_key",
                  "secret_key", "private_key", "authorization", "credential", "credentials", "cookie", "session_key"),
    drop_fields=("headers", "cookies", "request_body", "response_body"),
    pseudonymize_fields=("user_id",),
)


def _pseudonym(value: str) -> str:
    """Computed here with the standard library, independently of the scrubber."""
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]


def _expected(case: dict[str, Any]) -> Any:
    text = json.dumps(case["expected"])
    text = re.sub(r'"<pseudonym:([^>]*)>"', lambda m: json.dumps(_pseudonym(m.group(1))), text)
    return json.loads(text)


@pytest.fixture
def scrubber() -> Scrubber:
    return Scrubber(DEFAULT_RULES, KEY)


def test_defaults_match_the_packaged_configuration(settings: Settings) -> None:
    """The rules the corpus is checked with are the ones a fresh install runs."""
    assert PrivacyRules.from_settings(settings) == DEFAULT_RULES


@pytest.mark.parametrize("case", [c for c in CORPUS if c["kind"] == "text"], ids=lambda c: c["input"][:40])
def test_corpus_text(scrubber: Scrubber, case: dict[str, Any]) -> None:
    """Every private value in a log line is masked, nothing else changes, and each mask is counted by rule."""
    out = scrubber.scrub_text(case["input"])
    assert out == case["expected"]
    assert dict(scrubber.counts) == case["rules"]


@pytest.mark.parametrize("case", [c for c in CORPUS if c["kind"] == "json"], ids=lambda c: json.dumps(c["input"])[:40])
def test_corpus_json(scrubber: Scrubber, case: dict[str, Any]) -> None:
    """JSON objects: secret-named fields masked, dropped fields gone, user ids pseudonymised, values scrubbed."""
    text = json.dumps(case["input"], ensure_ascii=False, separators=(",", ":"))
    out = scrubber.scrub_json(text)
    if not case["rules"]:
        assert out is text  # untouched objects keep their exact text
    assert json.loads(out or "null") == _expected(case)
    assert dict(scrubber.counts) == case["rules"]


def test_corpus_covers_both_sides() -> None:
    """The corpus holds clean lines (precision) and lines of the original rules (recall); the newer rules
    are covered by the labelled corpus (tests/unit/test_privacy_labelled.py)."""
    rules = Counter(r for c in CORPUS for r in c["rules"])
    assert sum(1 for c in CORPUS if not c["rules"]) >= 40
    assert {"jwt", "url_password", "bearer", "secret_value", "api_key", "email", "card", "ipv6", "ipv4",
            "phone"} <= set(rules)
    assert {"secret_field", "dropped_field", "pseudonymized"} <= set(rules)


def test_precheck_is_a_superset(scrubber: Scrubber) -> None:
    """Each line the detectors change matches the pre-check; flagged scrubbing gives the same text."""
    for case in CORPUS:
        if case["kind"] != "text":
            continue
        text = case["input"]
        if case["rules"]:
            assert scrubber.might_contain(text), text
        flags = sum(1 << i for i, q in enumerate(scrubber.quick_patterns) if re.search(q, text, re.ASCII))
        assert scrubber.scrub_text_flagged(text, flags) == case["expected"]


def test_prechecks_mean_the_same_in_duckdb(scrubber: Scrubber) -> None:
    """The pre-checks are valid RE2 and select the same lines in DuckDB as in Python."""
    con = duckdb.connect()

    def each(sql: str, texts: list[str], pattern: str) -> list[Any]:
        """``sql`` (a function of ``t``) on every text at once: one query per pattern, not one per line."""
        return con.execute(f"SELECT list_transform(?::VARCHAR[], t -> {sql})", [texts, pattern]).fetchall()[0][0]

    texts = [json.dumps(case["input"]) for case in CORPUS]
    assert each("regexp_replace(t, ?, ' ', 'g')", texts, JSON_ESCAPES) == [unescape_for_precheck(t) for t in texts]
    texts = [case["input"] if case["kind"] == "text" else unescape_for_precheck(json.dumps(case["input"]))
             for case in CORPUS]
    for pattern in (scrubber.text_precheck, scrubber.json_precheck, *scrubber.quick_patterns):
        in_python = [bool(re.search(pattern, text, re.ASCII)) for text in texts]
        assert each("regexp_matches(t, ?)", texts, pattern) == in_python, pattern


_HEX = "0123456789abcdef"
uuids = st.uuids().map(str)
# Bare dotted quads are IPv4 addresses to any reader: four-part versions carry a "v" or "version".
versions = st.tuples(st.integers(0, 99), st.lists(st.integers(0, 99999), min_size=1, max_size=2)).map(
    lambda t: ".".join(map(str, [t[0], *t[1]])))
prefixed_versions = st.tuples(st.sampled_from(["v", "version ", "build "]),
                              st.lists(st.integers(0, 99999), min_size=2, max_size=4)).map(
    lambda t: t[0] + ".".join(map(str, t[1])))
hashes = st.sampled_from([8, 12, 32, 40, 64]).flatmap(lambda n: st.text(_HEX, min_size=n, max_size=n))
timestamps = st.datetimes().map(lambda d: d.isoformat(timespec="microseconds") + "Z")
durations = st.tuples(st.floats(0, 1e6, allow_nan=False), st.sampled_from(["ms", "s", " ms", "us"])).map(
    lambda t: f"{t[0]:.3f}{t[1]}")
ports = st.integers(1, 65535).map(lambda p: f"localhost:{p}")
benign = st.one_of(uuids, versions, prefixed_versions, hashes, timestamps, durations, ports)
templates = st.sampled_from(["{}", "value {} seen", "({})", "id={}", "[{}] done", "from {} to {}"])


@hsettings(max_examples=examples(300), deadline=None)
@given(template=templates, values=st.lists(benign, min_size=2, max_size=2))
def test_benign_tokens_survive(template: str, values: list[str]) -> None:
    """UUIDs, versions, hashes, ISO timestamps, durations and ports are never masked."""
    scrubber = Scrubber(DEFAULT_RULES, KEY)
    text = template.format(*values[: template.count("{}")])
    assert scrubber.scrub_text(text) == text


def _card(prefix: str, length: int, body: str) -> str:
    digits = (prefix + body)[: length - 1]
    check = next(str(d) for d in range(10) if luhn_ok(digits + str(d)))
    return digits + check


cards = st.tuples(st.sampled_from([("4", 16), ("51", 16), ("37", 15), ("6011", 16)]),
                  st.text("0123456789", min_size=18, max_size=18)).map(lambda t: _card(t[0][0], t[0][1], t[1]))
emails = st.tuples(st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
                   st.from_regex(r"[a-z]{2,10}\.(com|org|net|io)", fullmatch=True)).map(lambda t: f"{t[0]}@{t[1]}")
public_ipv4 = st.tuples(st.integers(1, 223).filter(lambda a: a != 127), *[st.integers(0, 255)] * 3).map(
    lambda t: ".".join(map(str, t)))


@hsettings(max_examples=examples(300), deadline=None)
@given(value=st.one_of(cards.map(lambda v: (v, "[CARD]")), emails.map(lambda v: (v, "[EMAIL]")),
                       public_ipv4.map(lambda v: (v, "[IP]"))),
       uuid=uuids)
def test_private_values_are_masked_in_context(value: tuple[str, str], uuid: str) -> None:
    """Generated cards, e-mails and addresses are masked; the words and ids around them stay."""
    scrubber = Scrubber(DEFAULT_RULES, KEY)
    private, mask = value
    assert scrubber.scrub_text(f"request {uuid} for {private}, ok") == f"request {uuid} for {mask}, ok"


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("db_password", True), ("DB-PASSWORD", True), ("apiKey", True), ("x-api-key", True),
    ("accessToken", True), ("refresh_token", True), ("client_secret", True), ("Authorization", True),
    ("set-cookie", True), ("credentials", True),
    ("max_tokens", False), ("token_count", False), ("tokenizer", False), ("password_length", False),
    ("secret_rotation_days", False), ("cache_key", False), ("keyboard", False), ("author", False),
])
def test_secret_names(name: str, secret: bool) -> None:
    """A name is secret when it is, or ends with, a secret word in any case style."""
    assert DEFAULT_RULES.is_secret(name) is secret


def test_pseudonyms_are_keyed_and_stable() -> None:
    """The same id gives the same pseudonym under one key and a different one under another."""
    a, b = Scrubber(DEFAULT_RULES, KEY), Scrubber(DEFAULT_RULES, b"other key")
    assert a.pseudonymize("alice") == a.pseudonymize("alice") == _pseudonym("alice")
    assert a.pseudonymize("alice") != a.pseudonymize("bob")
    assert a.pseudonymize("alice") != b.pseudonymize("alice")


def test_scrub_record(scrubber: Scrubber) -> None:
    """A whole record: message, extra and error_details scrubbed, user_id pseudonymised, ids kept."""
    record = normalize({
        "timestamp": stamp(), "level": "ERROR", "module": "auth", "function": "login",
        "topic": "auth.login", "message": "login failed for alice@example.com from 203.0.113.7",
        "user_id": "alice", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "extra": {"password": "x", "attempt": 3, "headers": {"a": "b"}},
        "error_details": {"type": "AuthError", "message": "bad password for alice@example.com"},
    })
    out = scrubber.scrub_record(record)
    assert out["message"] == "login failed for [EMAIL] from [IP]"
    assert out["user_id"] == _pseudonym("alice")
    assert out["trace_id"] == record["trace_id"]
    assert json.loads(out["extra"]) == {"password": "[SECRET]", "attempt": 3}
    assert json.loads(out["error_details"]) == {"type": "AuthError", "message": "bad password for [EMAIL]"}
    assert record["message"].startswith("login failed for alice")  # the input is not modified


def test_configured_rules_and_drop_fields() -> None:
    """Rules can be turned off one by one, and record columns can be dropped."""
    rules = PrivacyRules(rules=("email",), secret_names=("password",), drop_fields=("session_id",))
    scrubber = Scrubber(rules, KEY)
    out = scrubber.scrub_record({"message": "a@example.com 203.0.113.7", "session_id": "s-1", "user_id": "u"})
    assert out == {"message": "[EMAIL] 203.0.113.7", "session_id": None, "user_id": _pseudonym("u")}
    assert scrubber.counts == Counter({"email": 1, "dropped_field": 1, "pseudonymized": 1})
    with pytest.raises(ConfigError, match="unknown rules"):
        Scrubber(PrivacyRules(rules=("email", "shoe_size"), secret_names=()), KEY)


def test_key_is_made_once_and_kept_private(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pseudonym key is made on first use (mode 0600), reused, and AICO_PRIVACY_KEY overrides it."""
    with pytest.raises(Exception, match="no privacy key"):
        Scrubber.from_settings(settings)
    first = Scrubber.from_settings(settings, create_key=True).pseudonymize("alice")
    path = settings.keys_dir / "privacy.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert Scrubber.from_settings(settings).pseudonymize("alice") == first
    monkeypatch.setenv("AICO_PRIVACY_KEY", "from-env")
    assert Scrubber.from_settings(settings).pseudonymize("alice") != first


fragments = st.one_of(
    st.sampled_from(["token", "password", "Bearer", "phone", "tel.", "mobile no", "version", "v", "user@",
                     "@example.com", "https://", "sk-", "ghp_", "AKIA", "eyJ", "::", "127.0.0.1", "0.0.0.0",
                     "Cookie: ", "Set-Cookie: ", "?sid=", "&token=", "IBAN ", "DE89", "GB82 WEST ", "ssn ", "SSN: ",
                     "account no ", "routing ", "-----BEGIN ", "MII", "00", "0", "signing_key=", "national id ",
                     "DNI ", "--password ", "%3A%2F%2F", "%40", "Basic ", "x-api-key: "]),
    st.from_regex(r"[0-9 .:+()\-/]{1,24}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True),
    cards, emails, public_ipv4, uuids, versions,
)
separators = st.sampled_from([" ", "", ", ", "=", ": ", "\n", '"', "'", "/", "-", "@", ":"])


@hsettings(max_examples=examples(400), deadline=None)
@given(parts=st.lists(st.tuples(fragments, separators), min_size=1, max_size=8))
def test_prechecks_never_hide_a_match(parts: list[tuple[str, str]]) -> None:
    """Gating detectors on their pre-checks changes nothing: same text as running every detector."""
    text = "".join(a + b for a, b in parts)
    gated, ungated = Scrubber(DEFAULT_RULES, KEY), Scrubber(DEFAULT_RULES, KEY)
    everything = (1 << len(ungated.detectors)) - 1
    assert gated.scrub_text(text) == ungated.scrub_text_flagged(text, everything)
    assert gated.counts == ungated.counts
