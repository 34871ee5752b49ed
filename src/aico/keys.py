"""Keys and secret files: the database key (256 random bits made on first start) and the 0600 files.

A neutral module: the store, the bus (CURVE keys), the bridge, the dashboard, retention, analytics
and privacy all keep secrets here, and the logger library reaches it through the bus, so it imports
nothing but the settings and the errors (``keyring`` only when a key is looked up).

Looked up in order: ``AICO_DB_KEY``; the OS keyring (when one works and is not turned off);
``$AICO_HOME/keys/<name>.key`` (mode 0600). A new key is made only when the caller says the
thing it protects is new: a missing key for an existing database is an error, never a new key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from aico.config.private import private_dir
from aico.config.settings import Settings
from aico.errors import EncryptionKeyError

KEYRING_SERVICE = "aico-logging"


def _keyring_usable(settings: Settings) -> bool:
    if not settings.core.security.keyring:
        return False
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0
    except Exception:  # noqa: BLE001 - a broken keyring backend is "no keyring", not a crash
        return False


def _keyring_user(settings: Settings, name: str) -> str:
    digest = hashlib.sha256(str(settings.home.resolve()).encode()).hexdigest()[:16]
    return f"{name}:{digest}"


def _read_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EncryptionKeyError(f"cannot read key file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise EncryptionKeyError(f"key file {path} is not a key (it holds bytes that are not text): "
                                 "restore the key file, or set the key in the environment") from None
    if not text.isprintable():
        raise EncryptionKeyError(f"key file {path} is not a key (it holds control characters): "
                                 "restore the key file, or set the key in the environment")
    return text or None


def write_secret_file(path: Path, text: str) -> str:
    """Create ``path`` with mode 0600 holding ``text``, all at once; returns the text the file holds.

    The text is written to a private temporary file, fsynced, then linked to ``path``: a
    process killed part-way never leaves an empty or half key behind. If another process
    made the file first, its text wins (and is returned). An empty file (left by an older
    version killed while writing it) never held a usable key and is replaced.
    """
    private_dir(path.parent)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = _read_file(path)
            if existing is not None:
                return existing
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return text


def load_key(settings: Settings, name: str = "db", *, create: bool, env_var: str | None = "AICO_DB_KEY") -> str:
    """The key called ``name``; made (and stored) only when ``create`` is true."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    path = settings.keys_dir / f"{name}.key"
    key = _read_file(path)
    if key:
        return key
    if settings.core.security.passphrase or (settings.keys_dir / f"{name}.key.wrapped").exists():
        from aico.keyset.wrapped import read_wrapped

        key = read_wrapped(settings, name)
        if key:
            return key
    use_keyring = _keyring_usable(settings)
    if use_keyring:
        import keyring

        try:
            key = keyring.get_password(KEYRING_SERVICE, _keyring_user(settings, name))
        except Exception:  # noqa: BLE001 - a keyring that cannot answer: the key file is the fallback
            key = None
        if key:
            return key
    if not create:
        raise EncryptionKeyError(
            f"no {name} key found (looked in {env_var or 'the environment'}, the OS keyring and {path}); "
            "set the key that encrypted this store, or restore the key file"
        )
    key = secrets.token_hex(32)
    if settings.core.security.passphrase:
        from aico.keyset.wrapped import write_wrapped

        return write_wrapped(settings, name, key)
    if use_keyring:
        import keyring

        try:
            keyring.set_password(KEYRING_SERVICE, _keyring_user(settings, name), key)
        except Exception:  # noqa: BLE001 - a keyring that refuses the key: the key file is the fallback
            return write_secret_file(path, key)
        return key
    return write_secret_file(path, key)


def find_key(settings: Settings, name: str, env_var: str | None) -> tuple[str, str] | None:
    """Where the key called ``name`` is kept (``environment``, ``file`` or ``keyring``) and the key,
    looked up in ``load_key``'s order; None when there is none yet. Never makes one."""
    if env_var and os.environ.get(env_var):
        return "environment", os.environ[env_var]
    key = _read_file(settings.keys_dir / f"{name}.key")
    if key:
        return "file", key
    if (settings.keys_dir / f"{name}.key.wrapped").exists():
        from aico.keyset.wrapped import read_wrapped

        key = read_wrapped(settings, name)
        if key:
            return "passphrase", key
    if _keyring_usable(settings):
        import keyring

        try:
            key = keyring.get_password(KEYRING_SERVICE, _keyring_user(settings, name))
        except Exception:  # noqa: BLE001 - a keyring that cannot answer: no key there
            key = None
        if key:
            return "keyring", key
    return None
