"""The bus allow-list: other machines' CURVE public keys the broker admits, one per line.

``keys/bus_clients.allow`` holds one Z85 public key per line; a line starting with ``#`` is a
comment (``aico bus allow add --note`` writes the note as a comment line above its key). The
broker's ZAP handler reads the file again whenever it changed (``BusKeys.allowed``), so a key
added or removed takes effect for the next connection, without a restart; a connection already
admitted stays until it closes.
"""

from __future__ import annotations

import os
from pathlib import Path

import zmq.utils.z85

from aico.config.private import private_dir, private_open
from aico.errors import ConfigError


def check_key(key: str) -> str:
    """A CURVE public key as Z85 (40 characters), or ConfigError saying what is wrong."""
    key = key.strip()
    try:
        if len(key) != 40 or len(zmq.utils.z85.decode(key.encode("ascii"))) != 32:
            raise ValueError
    except (ValueError, UnicodeEncodeError, KeyError, IndexError):
        raise ConfigError(f"{key[:60]!r} is not a CURVE public key (40 characters of Z85, as "
                          "zmq.curve_keypair() gives)") from None
    return key


def entries(path: Path) -> list[tuple[str, str]]:
    """(key, note) of each key in the file, in order."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except FileNotFoundError:
        return []
    out, note = [], ""
    for line in (raw.strip() for raw in lines):
        if line.startswith("#"):
            note = line.lstrip("#").strip()
        elif line:
            out.append((line, note))
            note = ""
    return out


def _write(path: Path, items: list[tuple[str, str]]) -> None:
    private_dir(path.parent)
    text = "".join((f"# {note}\n" if note else "") + f"{key}\n" for key, note in items)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="ascii", opener=private_open) as fh:
        fh.write(text)
    os.replace(tmp, path)  # the broker never reads half a file


def add(path: Path, key: str, note: str = "") -> bool:
    """Admit ``key``; False when it was already there."""
    key = check_key(key)
    if "\n" in note:
        raise ConfigError("a note is one line")
    items = entries(path)
    if any(k == key for k, _ in items):
        return False
    _write(path, [*items, (key, note)])
    return True


def remove(path: Path, key: str) -> bool:
    """Stop admitting ``key``; False when it was not there."""
    items = entries(path)
    kept = [(k, n) for k, n in items if k != key.strip()]
    if len(kept) == len(items):
        return False
    _write(path, kept)
    return True
