"""Passphrase mode: keys are kept wrapped under an Argon2id key from AICO_PASSPHRASE, never in clear."""

from __future__ import annotations

from pathlib import Path

import pytest

from aico.config import load_settings
from aico.errors import EncryptionKeyError
from aico.keys import load_key
from aico.keyset.inventory import inventory


def test_a_key_made_in_passphrase_mode_is_wrapped_and_opens_only_with_the_passphrase(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key file is .key.wrapped (no clear .key), reads back with the passphrase, is refused with another."""
    for name in ("AICO_DB_KEY", "AICO_PRIVACY_KEY"):
        monkeypatch.delenv(name, raising=False)
    env = {"AICO_HOME": str(tmp_path), "AICO_CORE__SECURITY__KEYRING": "false",
           "AICO_CORE__SECURITY__PASSPHRASE": "true"}
    settings = load_settings(env=env)
    monkeypatch.setenv("AICO_PASSPHRASE", "tr0ub4dor")
    key = load_key(settings, "privacy", create=True, env_var="AICO_PRIVACY_KEY")
    keys = tmp_path / "keys"
    assert (keys / "privacy.key.wrapped").exists() and not (keys / "privacy.key").exists()
    assert key not in (keys / "privacy.key.wrapped").read_text()
    assert load_key(settings, "privacy", create=False, env_var="AICO_PRIVACY_KEY") == key
    assert {i.spec.label: i.where for i in inventory(settings)}["privacy"] == "passphrase"
    monkeypatch.setenv("AICO_PASSPHRASE", "wrong")
    with pytest.raises(EncryptionKeyError, match="wrong passphrase"):
        load_key(settings, "privacy", create=False, env_var="AICO_PRIVACY_KEY")


def test_passphrase_mode_with_no_passphrase_and_no_terminal_says_what_to_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AICO_PASSPHRASE and no terminal: one clear error naming the variable."""
    monkeypatch.delenv("AICO_PASSPHRASE", raising=False)
    monkeypatch.delenv("AICO_DB_KEY", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    settings = load_settings(env={"AICO_HOME": str(tmp_path), "AICO_CORE__SECURITY__KEYRING": "false",
                                  "AICO_CORE__SECURITY__PASSPHRASE": "true"})
    with pytest.raises(Exception, match="AICO_PASSPHRASE"):
        load_key(settings, "db", create=True)
