"""The ingest policy (core.privacy.ingest): what the collector masks before a record is stored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from aico.collector.consumer import LogConsumer
from aico.config import Settings, load_settings
from aico.privacy.ingest import UNSCRUBBED, IngestPolicy
from aico.schema.record import COLUMNS, normalize, to_row

from support import home_env, stamp


def _settings(tmp_path: Path, **privacy: str) -> Settings:
    extra = {f"AICO_CORE__PRIVACY__{k.upper()}": v for k, v in privacy.items()}
    return load_settings(env=home_env(tmp_path / "home", **extra))


def _row(message: str, **more: Any) -> tuple[Any, ...]:
    return to_row(normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f", "topic": "t",
                             "message": message, **more}))


def _get(row: tuple[Any, ...], name: str) -> Any:
    return row[COLUMNS.index(name)]


def test_default_masks_secrets_and_keeps_pii(tmp_path: Path) -> None:
    """Under the default (secrets): cards, keys and secret fields masked; e-mail, phone and ids stored."""
    policy = IngestPolicy(_settings(tmp_path))
    assert policy.mode == "secrets"
    row = _row("card 4111 1111 1111 1111 for ann@example.com, key AKIAIOSFODNN7EXAMPLE",
               extra={"db_password": "hunter2", "phone": "+44 20 7946 0958"}, user_id="u-7")
    out = policy.scrub_row(row)
    assert _get(out, "message") == "card [CARD] for ann@example.com, key [API_KEY]"
    assert json.loads(_get(out, "extra")) == {"db_password": "[SECRET]", "phone": "+44 20 7946 0958"}
    assert _get(out, "user_id") == "u-7"
    assert policy.figures() == {"card": 1, "api_key": 1, "secret_field": 1}


def test_clean_rows_pass_as_they_are(tmp_path: Path) -> None:
    """A row with nothing secret is returned itself (no copy), and nothing is counted."""
    policy = IngestPolicy(_settings(tmp_path))
    row = _row("request 42 handled in 35 ms (trace 4bf92f3577b34da6a3ce929d0e0e4736)", extra={"route": "/a/b"})
    assert policy.scrub_row(row) is row
    assert policy.figures() == {}


def test_pii_mode_masks_everything_and_applies_field_rules(tmp_path: Path) -> None:
    """ingest: pii masks PII too, pseudonymises user_id and drops drop_fields."""
    policy = IngestPolicy(_settings(tmp_path, ingest="pii"))
    row = _row("mail ann@example.com from 203.0.113.9", extra={"headers": {"x": 1}, "n": 1}, user_id="u-7")
    out = policy.scrub_row(row)
    assert _get(out, "message") == "mail [EMAIL] from [IP]"
    assert json.loads(_get(out, "extra")) == {"n": 1}
    assert _get(out, "user_id") not in (None, "u-7") and len(_get(out, "user_id")) == 32


def test_pii_pseudonyms_keep_joins(tmp_path: Path) -> None:
    """pii_action: pseudonymize gives each e-mail a stable keyed token, never the address."""
    policy = IngestPolicy(_settings(tmp_path, ingest="pii", pii_action="pseudonymize"))
    a, b = (_get(policy.scrub_row(_row(f"login {m}")), "message") for m in ("ann@example.com", "ann@example.com"))
    c = _get(policy.scrub_row(_row("login bob@example.com")), "message")
    assert a == b != c and a.startswith("login [EMAIL:") and "example" not in a


def test_off_stores_as_logged(tmp_path: Path) -> None:
    """ingest: off (also as YAML's bare off, read as false) changes nothing."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "core.yaml").write_text("core:\n  privacy:\n    ingest: off\n")
    settings = load_settings(env=home_env(home))
    assert settings.core.privacy.ingest == "off"
    policy = IngestPolicy(settings)
    row = _row("card 4111 1111 1111 1111")
    assert policy.mode == "off" and not policy.active and policy.scrub_row(row) is row


def test_a_scrubber_failure_keeps_the_record_and_stores_nothing_unchecked(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """If a detector raises, the text becomes UNSCRUBBED, the record survives, and it is counted."""
    policy = IngestPolicy(_settings(tmp_path))
    assert policy.scrubber is not None

    def broken(text: str) -> str:
        raise RuntimeError("detector bug")

    monkeypatch.setattr(policy.scrubber, "scrub_text", broken)
    out = policy.scrub_row(_row("password=hunter2"))
    assert _get(out, "message") == UNSCRUBBED and policy.figures()["scrub_error"] == 1


def test_consumer_applies_the_policy_before_batching(tmp_path: Path) -> None:
    """The collector's decode step hands the writer masked rows and counts them in its status figures."""
    consumer = LogConsumer(_settings(tmp_path))
    good = json.dumps({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f", "topic": "t",
                       "message": "token ghp_" + "a1B2" * 9 + " used"}).encode()
    consumer._accept([b"logs.x", good, b"{broken", good])
    assert [_get(r, "message") for r in consumer._pending] == ["token [API_KEY] used"] * 2
    assert consumer.counters.rejected == 1
    figures = consumer.counters.as_dict()
    assert figures["masked"] == {"api_key": 2} and figures["privacy_ingest"] == "secrets"


def test_hostile_texts_finish(tmp_path: Path) -> None:
    """Long adversarial texts (64 KiB of separators, prefixes, half tokens) are scrubbed without blowing up."""
    policy = IngestPolicy(_settings(tmp_path, ingest="pii"))
    assert policy.scrubber is not None
    for text in ("1 " * 30000, "token=abc&" * 6000, "-----BEGIN " * 5000, "a@" * 30000, "+1 " * 20000,
                 "secret: " + "A1b2" * 16000, "1:" * 30000, "%3A%2F%2F" * 5000):
        start = time.monotonic()
        policy.scrubber.scrub_text(text)
        assert time.monotonic() - start < 20, text[:20]


def test_field_names_are_pre_checked_in_json_only(tmp_path: Path) -> None:
    """A message that says "tokens" or "credentials" is clean text (the names rule acts on JSON field
    names): its group skips the detectors, while a JSON ``extra`` with a secret-named field does not."""
    policy = IngestPolicy(_settings(tmp_path))
    scrubber = policy.scrubber
    assert scrubber is not None
    message = "model inference finished: 4000 tokens generated; credentials cache warm, secret sauce"
    assert scrubber.might_need(message)  # the old single pass: every text against the names too
    assert not scrubber.might_change([message], [])
    assert scrubber.might_change([message], ['{"api_token":"abc"}'])
    rows = [_row(message, extra={"route": "/a"}) for _ in range(9)]
    assert all(out is row for out, row in zip(policy.scrub_rows(rows), rows, strict=True))
    masked = policy.scrub_rows([*rows, _row(message, extra={"api_token": "abc"})])
    assert json.loads(_get(masked[-1], "extra")) == {"api_token": "[SECRET]"}


@pytest.mark.parametrize("mode", ["secrets", "pii"])
def test_pre_check_never_hides_what_a_scrub_changes(tmp_path: Path, mode: str) -> None:
    """Over the privacy corpora, a text ``might_change`` calls clean is one ``scrub_text`` (plain) or
    ``scrub_json`` (JSON) returns unchanged, alone and joined with others: recall is the detectors'."""
    policy = IngestPolicy(_settings(tmp_path, ingest=mode))
    scrubber = policy.scrubber
    assert scrubber is not None
    data = Path(__file__).resolve().parent.parent / "data"
    texts: list[str] = []
    jsons: list[str] = []
    for name in ("privacy_corpus.jsonl", "privacy_labelled.jsonl"):
        for line in (data / name).read_text().splitlines():
            case = json.loads(line)
            text = case.get("input", case.get("text"))
            (jsons if case.get("kind") == "json" else texts).append(text if isinstance(text, str) else json.dumps(text))
    changed = 0
    for text in texts:
        if scrubber.scrub_text(text) != text:
            changed += 1
            assert scrubber.might_change([text], []) and scrubber.might_change(["clean", text, "clean"], []), text
    for text in jsons:
        if scrubber.scrub_json(text) != text:
            changed += 1
            assert scrubber.might_change([], [text]) and scrubber.might_change(["clean"], ['{"a":1}', text]), text
    assert changed > 100  # the corpora do hold private values in both kinds
