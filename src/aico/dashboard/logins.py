"""One-time login codes: what the link of ``aico dashboard url`` carries, traded once for a session.

A code is 256 random bits. Only its SHA-256 is kept, with its expiry (``LOGIN_TTL_S`` after it
was made), in ``keys/dashboard-logins.json`` (0600), which the CLI writes and the dashboard's
process reads: they share the home folder, not memory. Redeeming removes the code under an
exclusive lock on ``keys/dashboard-logins.lock``, so of two uses of one code (two tabs, a link
read from a shell history or a screen share) exactly one gets the session; a used, expired or
unknown code is refused alike. Expired codes are dropped whenever the file is rewritten.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from aico.config.settings import Settings

LOGIN_TTL_S = 300  # long enough to click the link aico dashboard url printed; minted anew at each run
FILE = "dashboard-logins.json"
LOCK = "dashboard-logins.lock"
MAX_CODES = 64  # unused codes kept at most (the oldest go first): printing links never grows the file


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@contextmanager
def _locked(settings: Settings) -> Iterator[Path]:
    folder = settings.keys_dir
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder / FILE
    finally:
        os.close(fd)  # closing releases the lock


def _read(path: Path) -> dict[str, float]:
    """The kept codes (digest -> expiry); a missing or damaged file holds none (its links fail: 401)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, int | float)}


def _write(path: Path, codes: dict[str, float]) -> None:
    """Replace the file at once (a private temporary file renamed over it), mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(codes))
    os.replace(tmp, path)


def mint(settings: Settings, *, now: float) -> str:
    """A new code, valid once until ``now + LOGIN_TTL_S``."""
    code = secrets.token_urlsafe(32)
    with _locked(settings) as path:
        kept = sorted(((exp, h) for h, exp in _read(path).items() if exp > now), reverse=True)[:MAX_CODES - 1]
        codes = {h: exp for exp, h in kept}
        codes[_digest(code)] = now + LOGIN_TTL_S
        _write(path, codes)
    return code


def redeem(settings: Settings, code: str, *, now: float) -> bool:
    """Whether ``code`` is a kept code not yet expired at ``now``; it is used up either way."""
    if not code or len(code) > 256:
        return False
    digest = _digest(code)
    with _locked(settings) as path:
        codes = _read(path)
        expires = codes.pop(digest, None)
        if expires is None:
            return False
        _write(path, {h: exp for h, exp in codes.items() if exp > now})
    return expires > now
