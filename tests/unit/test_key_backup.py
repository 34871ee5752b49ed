"""The key backup file: sealed under a passphrase, its parameters bound to it, and the allow-list's key check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aico.bus.allowlist import add, check_key, entries, remove
from aico.errors import ConfigError, EncryptionKeyError
from aico.keyset.backup import open_keys, seal_keys


def test_a_backup_opens_with_its_passphrase_and_holds_no_key_in_clear() -> None:
    """Round trip with the right passphrase; the keys' text is nowhere in the document."""
    keys = {"database": "ab" * 32, "bus": '{"server_secret": "x"}'}
    doc = seal_keys(keys, "pass phrase")
    assert "ab" * 32 not in json.dumps(doc) and doc["kdf"]["name"] == "argon2id"
    assert open_keys(doc, "pass phrase") == keys


def test_a_wrong_passphrase_or_a_changed_parameter_is_refused_as_a_key_error() -> None:
    """Both fail authentication: EncryptionKeyError (exit status 3 in the CLI)."""
    doc = seal_keys({"database": "cd" * 32}, "right")
    with pytest.raises(EncryptionKeyError, match="wrong passphrase"):
        open_keys(doc, "wrong")
    doc["kdf"]["time_cost"] = 1
    with pytest.raises(EncryptionKeyError):
        open_keys(doc, "right")
    with pytest.raises(ConfigError, match="not an aico key backup"):
        open_keys({"format": "other"}, "right")


def test_the_allow_list_takes_only_curve_keys_once_and_keeps_notes(tmp_path: Path) -> None:
    """A Z85 public key is added once with its note, listed, removed; anything else is a ConfigError."""
    import zmq

    path = tmp_path / "bus_clients.allow"
    public = zmq.curve_keypair()[0].decode()
    assert add(path, public, "laptop") and not add(path, public)
    assert entries(path) == [(public, "laptop")]
    assert remove(path, public) and entries(path) == [] and not remove(path, public)
    for bad in ("short", "é" * 40, "x" * 41):
        with pytest.raises(ConfigError):
            check_key(bad)
