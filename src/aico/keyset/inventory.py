"""Every key of a home: its name, where it is kept, when it was made, and a fingerprint.

Named keys (``load_key``: environment, then ``keys/<name>.key``, then the OS keyring) hold 256
random bits as hex; file keys are whole files under ``keys/`` (the bus keypairs, the tokens).
The fingerprint is the first 16 hex digits of the SHA-256 of the key: enough to tell two keys
apart, nothing to recover one from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aico.config.settings import Settings
from aico.keys import find_key


@dataclass(frozen=True)
class KeySpec:
    label: str  # what a person calls it (aico keys status, rotate)
    name: str  # the load_key name, or the file name under keys/
    env_var: str | None = None
    whole_file: bool = False  # kept as a file of its own (not through load_key)


KEYS = (
    KeySpec("database", "db", "AICO_DB_KEY"),
    KeySpec("archives", "archive", "AICO_ARCHIVE_KEY"),
    KeySpec("analytics", "analytics", "AICO_ANALYTICS_KEY"),
    KeySpec("privacy", "privacy", "AICO_PRIVACY_KEY"),
    KeySpec("spool", "spool", "AICO_SPOOL_KEY"),
    KeySpec("bus", "bus.keys", whole_file=True),
    KeySpec("bridge-token", "bridge.token", whole_file=True),
    KeySpec("dashboard-token", "dashboard.token", whole_file=True),
)


@dataclass(frozen=True)
class KeyInfo:
    spec: KeySpec
    where: str | None  # environment, file, keyring; None: not made yet
    made: str | None  # ISO time the file was written (files only)
    fingerprint: str | None
    value: str | None


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def spec(label: str) -> KeySpec:
    """The key a person named (``database`` or ``db`` alike)."""
    for s in KEYS:
        if label in (s.label, s.name, s.name.split(".")[0]):
            return s
    from aico.errors import ConfigError

    raise ConfigError(f"no key called {label!r}: the keys are {', '.join(s.label for s in KEYS)}")


def _made(path: Path) -> str | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except OSError:
        return None


def look(settings: Settings, s: KeySpec) -> KeyInfo:
    """Where ``s`` is kept and what it holds, without making it."""
    if s.whole_file:
        path = settings.keys_dir / s.name
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError:
            value = ""
        if not value:
            return KeyInfo(s, None, None, None, None)
        return KeyInfo(s, "file", _made(path), fingerprint(value), value)
    found = find_key(settings, s.name, s.env_var)
    if found is None:
        return KeyInfo(s, None, None, None, None)
    where, value = found
    kept = {"file": f"{s.name}.key", "passphrase": f"{s.name}.key.wrapped"}.get(where)
    made = _made(settings.keys_dir / kept) if kept else None
    return KeyInfo(s, where, made, fingerprint(value), value)


def inventory(settings: Settings) -> list[KeyInfo]:
    return [look(settings, s) for s in KEYS]
