"""Keeping a named key where this home keeps it, replacing one, and forgetting one.

Where: wrapped under the passphrase (``passphrase``), the OS keyring (``keyring``) or
``keys/<name>.key`` (``file``, 0600). Replacing a file is atomic (a new file renamed over the
old one), so a kill leaves the old key or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from aico.config.private import fsync_path
from aico.config.settings import Settings
from aico.errors import ConfigError, EncryptionKeyError
from aico.keys import KEYRING_SERVICE, _keyring_usable, _keyring_user, find_key, write_secret_file


def _replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.new")
    tmp.unlink(missing_ok=True)
    write_secret_file(tmp, text)
    os.replace(tmp, path)
    fsync_path(path.parent)


def put_key(settings: Settings, name: str, key: str, where: str) -> None:
    """Keep ``key`` as ``name`` at ``where`` (passphrase, keyring or file), replacing what was there."""
    if where == "passphrase":
        from aico.keyset.wrapped import wrap_text, wrapped_path

        _replace_file(wrapped_path(settings, name), wrap_text(settings, name, key))
    elif where == "keyring":
        import keyring

        keyring.set_password(KEYRING_SERVICE, _keyring_user(settings, name), key)
    else:
        _replace_file(settings.keys_dir / f"{name}.key", key)


def drop_key(settings: Settings, name: str) -> None:
    """Forget the key ``name`` wherever it is kept (a key that is not there is no error)."""
    (settings.keys_dir / f"{name}.key").unlink(missing_ok=True)
    (settings.keys_dir / f"{name}.key.wrapped").unlink(missing_ok=True)
    if _keyring_usable(settings):
        import keyring

        with contextlib.suppress(Exception):
            keyring.delete_password(KEYRING_SERVICE, _keyring_user(settings, name))


def get_key(settings: Settings, name: str) -> tuple[str, str] | None:
    """(where, key) of the key ``name``, or None."""
    return find_key(settings, name, None)


def begin_rotation(settings: Settings, name: str, env_var: str, missing: str) -> tuple[str, str, str]:
    """The first step of every rotation: the new key kept as ``<name>.next``; (where, old, new).

    ``missing`` is the error when there is no key yet. A key from the environment is not
    rotated here: aico does not keep it, so it could not keep the new one.
    """
    found = find_key(settings, name, env_var)
    if found is None:
        raise EncryptionKeyError(missing)
    where, old = found
    if where == "environment":
        raise ConfigError(f"the {name} key comes from {env_var}: unset it so aico keeps the key, then rotate")
    new = secrets.token_hex(32)
    put_key(settings, f"{name}.next", new, where)
    return where, old, new
