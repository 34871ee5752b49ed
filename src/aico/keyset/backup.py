"""Every key of a home in one file, sealed under a passphrase, and back: a way to a new device.

The file is JSON: the format, the Argon2id parameters and salt, the cipher, a nonce, and the
key set sealed with AES-256-GCM under the passphrase's key (the clear fields are bound to it as
associated data, so changing a parameter fails like a wrong passphrase). The keys themselves
appear nowhere in clear.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aico.config.private import private_dir, private_open
from aico.config.settings import Settings
from aico.errors import ConfigError, EncryptionKeyError
from aico.keys import write_secret_file
from aico.keyset.inventory import KEYS, KeySpec, inventory, look
from aico.keyset.passphrase import derive, new_params
from aico.keyset.wrapped import wrapped_path, write_wrapped

FORMAT = "aico-keys"
VERSION = 1


def _clear(doc: dict[str, Any]) -> bytes:
    return json.dumps({k: doc[k] for k in ("format", "version", "kdf", "cipher")}, sort_keys=True).encode()


def seal_keys(keys: dict[str, str], passphrase: str) -> dict[str, Any]:
    """The backup document for ``keys`` (label -> key)."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "kdf": new_params(), "cipher": "AES-256-GCM"}
    nonce = os.urandom(12)
    sealed = AESGCM(derive(passphrase, doc["kdf"])).encrypt(nonce, json.dumps({"keys": keys}).encode(), _clear(doc))
    doc.update({"made": datetime.now(UTC).isoformat(timespec="seconds"),
                "nonce": base64.b64encode(nonce).decode(), "sealed": base64.b64encode(sealed).decode()})
    return doc


def open_keys(doc: dict[str, Any], passphrase: str) -> dict[str, str]:
    """The keys in a backup document; a wrong passphrase (or a changed file) is EncryptionKeyError."""
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ConfigError(f"not an aico key backup (format {doc.get('format')!r}, version {doc.get('version')!r})")
    try:
        nonce, sealed = base64.b64decode(doc["nonce"]), base64.b64decode(doc["sealed"])
        plain = AESGCM(derive(passphrase, doc["kdf"])).decrypt(nonce, sealed, _clear(doc))
    except InvalidTag:
        raise EncryptionKeyError("wrong passphrase for this key backup (or the file was changed): "
                                 "nothing was imported") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"the key backup is damaged: {exc}") from None
    keys = json.loads(plain)["keys"]
    return {str(k): str(v) for k, v in keys.items()}


def export_keys(settings: Settings, path: Path, passphrase: str) -> list[str]:
    """Write every key that exists to ``path`` (0600), sealed; the labels written."""
    keys = {info.spec.label: info.value for info in inventory(settings) if info.value}
    if not keys:
        raise ConfigError(f"no keys under {settings.keys_dir} yet: nothing to export")
    doc = seal_keys(keys, passphrase)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", opener=private_open) as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
    return sorted(keys)


def read_backup(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(f"{path} is not an aico key backup (not JSON)") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} is not an aico key backup")
    return doc


def _store(settings: Settings, s: KeySpec, value: str, replace: bool) -> None:
    wrap = settings.core.security.passphrase and not s.whole_file
    path = wrapped_path(settings, s.name) if wrap else settings.keys_dir / (s.name if s.whole_file else f"{s.name}.key")
    if replace:
        path.unlink(missing_ok=True)
    if wrap:
        write_wrapped(settings, s.name, value)
    else:
        write_secret_file(path, value)


def import_keys(settings: Settings, keys: dict[str, str], *, replace: bool = False) -> dict[str, str]:
    """Keep ``keys`` (label -> key) in this home's key files; what was done, by label.

    A key this home already holds with another value is refused (nothing is written) unless
    ``replace``: it may be the only key of data here.
    """
    specs = {s.label: s for s in KEYS}
    plan: dict[str, str] = {}
    for label, value in keys.items():
        s = specs.get(label)
        if s is None:
            plan[label] = "skipped (not a key this version knows)"
            continue
        now = look(settings, s)
        if now.value == value:
            plan[label] = f"already here ({now.where})"
        elif now.value and not replace:
            raise ConfigError(f"this home already has another {label} key ({now.where}): nothing was imported; "
                              "import into a fresh AICO_HOME, or pass --replace if its data is not needed")
        elif now.where == "environment":
            raise ConfigError(f"the {label} key is set in {s.env_var}: unset it to import the backup's key")
        else:
            plan[label] = "restored (passphrase)" if settings.core.security.passphrase and not s.whole_file \
                else "restored (file)"
    for label, what in plan.items():
        if what.startswith("restored"):
            _store(settings, specs[label], keys[label], replace)
    return plan
