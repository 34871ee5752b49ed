"""Rotating the spool key: new frames sealed under a new key, the old one kept as ``spool.prev``.

A spool holds only what is not stored yet, and every producer reads its own spool with the key
it finds at start, so nothing is re-encrypted: the old key becomes the previous key, which the
spool still opens (``logging/spool_cipher.py``), and new processes seal under the new key. A
process started before the rotation seals under the old key until it restarts: still read,
as the previous key. The next rotation drops the previous key, so it is refused while any
spooled frame still needs it (a producer that has not delivered, or not restarted).

Order: the old key is kept as ``spool.prev`` first, then ``spool`` replaced; a kill between
leaves both the same, which reads everything.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from aico.config.settings import Settings
from aico.errors import ConfigError, EncryptionKeyError, StoreError
from aico.keys import find_key
from aico.keyset.inventory import KeyInfo, KeySpec, fingerprint, look
from aico.keyset.keeping import get_key, put_key
from aico.logging.spool_cipher import PREVIOUS_KEY, SPOOL_KEY, SPOOL_KEY_ENV, SpoolCipher, key_bytes


def frames_under(settings: Settings, key: str) -> int:
    """How many spooled frames open under ``key`` (and so would be lost without it)."""
    cipher = SpoolCipher(key_bytes(key))
    frames: set[tuple[Path, int]] = set()
    for path in settings.spool_dir.rglob("seg-*.enc"):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        frames.update((path, i.start) for i in cipher.walk(data, final=True)[0] if i.ok)
    return len(frames)


def rotate_spool(settings: Settings) -> tuple[str, str]:
    """A new spool key, the old one kept as the previous key; (old, new) fingerprints."""
    found = find_key(settings, SPOOL_KEY, SPOOL_KEY_ENV)
    if found is None:
        raise EncryptionKeyError("no spool key yet: nothing to rotate (it is made when an application first logs)")
    where, old = found
    if where == "environment":
        raise ConfigError(f"the spool key comes from {SPOOL_KEY_ENV}: unset it so aico keeps the key, then rotate")
    previous = get_key(settings, PREVIOUS_KEY)
    if previous is not None and previous[1] != old:
        waiting = frames_under(settings, previous[1])
        if waiting:
            raise StoreError(f"{waiting} spooled batches are still sealed under the previous spool key: start the "
                             "backend so they are delivered, restart applications that logged before the last "
                             "rotation, then rotate again")
    new = secrets.token_hex(32)
    put_key(settings, PREVIOUS_KEY, old, where)
    put_key(settings, SPOOL_KEY, new, where)
    return fingerprint(old), fingerprint(new)


def previous_key(settings: Settings) -> tuple[KeyInfo, int] | None:
    """The previous spool key while spooled frames still need it (for ``aico keys status``), and how many;
    None when none does (or it is the current key)."""
    previous = get_key(settings, PREVIOUS_KEY)
    current = find_key(settings, SPOOL_KEY, SPOOL_KEY_ENV)
    if previous is None or (current is not None and current[1] == previous[1]):
        return None
    waiting = frames_under(settings, previous[1])
    return (look(settings, KeySpec("spool (previous)", PREVIOUS_KEY)), waiting) if waiting else None
