"""Passphrase mode: keys kept wrapped under a key derived from a passphrase, for machines with no keyring.

With ``core.security.passphrase: true``, a new key goes to ``keys/<name>.key.wrapped`` (JSON:
a nonce and the key sealed with AES-256-GCM, its name as associated data) instead of the OS
keyring or a clear key file. The wrapping key comes from the passphrase (``AICO_PASSPHRASE``, or
asked on the terminal) through Argon2id, with the parameters and salt kept once per home in
``keys/passphrase.kdf``; it is derived once per process and never written anywhere.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aico.config.settings import Settings
from aico.errors import EncryptionKeyError
from aico.keyset.passphrase import derive, new_params, passphrase

KDF_FILE = "passphrase.kdf"
_cache: dict[tuple[str, str], bytes] = {}
_lock = threading.Lock()


def wrapped_path(settings: Settings, name: str) -> Path:
    return settings.keys_dir / f"{name}.key.wrapped"


def _write_new(path: Path, text: str) -> str:
    from aico.keys import write_secret_file  # (the keys module imports this one lazily)

    return write_secret_file(path, text)


def _wrapping_key(settings: Settings) -> bytes:
    path = settings.keys_dir / KDF_FILE
    try:
        text = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        if not text:
            text = _write_new(path, json.dumps(new_params()))
        params: dict[str, Any] = json.loads(text)
    except (OSError, ValueError) as exc:
        raise EncryptionKeyError(f"cannot read the passphrase parameters {path}: {exc}") from None
    with _lock:
        phrase = passphrase(confirm=False, purpose=f"for the keys of {settings.home}")
        slot = (str(path), phrase)
        if slot not in _cache:
            _cache[slot] = derive(phrase, params)
        return _cache[slot]


def read_wrapped(settings: Settings, name: str) -> str | None:
    """The key ``name`` kept wrapped, or None when there is no such file; a wrong passphrase raises."""
    path = wrapped_path(settings, name)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EncryptionKeyError(f"cannot read the wrapped key {path}: {exc}") from None
    try:
        plain = AESGCM(_wrapping_key(settings)).decrypt(base64.b64decode(doc["nonce"]),
                                                         base64.b64decode(doc["sealed"]), name.encode())
    except InvalidTag:
        raise EncryptionKeyError(f"wrong passphrase for {path} (AICO_PASSPHRASE or the one asked)") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise EncryptionKeyError(f"the wrapped key {path} is damaged: {exc}") from None
    return plain.decode()


def wrap_text(settings: Settings, name: str, key: str) -> str:
    """The text of a wrapped key file holding ``key`` as ``name``."""
    nonce = os.urandom(12)
    sealed = AESGCM(_wrapping_key(settings)).encrypt(nonce, key.encode(), name.encode())
    return json.dumps({"nonce": base64.b64encode(nonce).decode(), "sealed": base64.b64encode(sealed).decode()})


def write_wrapped(settings: Settings, name: str, key: str) -> str:
    """Keep ``key`` wrapped as ``name`` (if another process made it first, its key wins and is returned)."""
    text = wrap_text(settings, name, key)
    written = _write_new(wrapped_path(settings, name), text)
    return key if written == text else (read_wrapped(settings, name) or key)
