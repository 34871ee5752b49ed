"""The bridge's bearer token: 256 random bits made at first start, kept in a 0600 file."""

from __future__ import annotations

import secrets
from pathlib import Path

from aico.config.settings import Settings
from aico.errors import BridgeError, UnauthorizedError
from aico.keys import write_secret_file

TOKEN_FILE = "bridge.token"


def token_path(settings: Settings) -> Path:
    return settings.keys_dir / TOKEN_FILE


def load_token(settings: Settings, *, create: bool = True) -> str:
    """The token in ``keys/bridge.token``; made there first if missing and ``create`` is true."""
    path = token_path(settings)
    text = token_in(path, create=create)
    if not text:
        raise UnauthorizedError(f"no bridge token yet at {path}: start the backend once (or run `aico bridge token`)")
    return text


def token_in(path: Path, *, create: bool = True) -> str:
    """The token kept in ``path`` (0600), made there first if missing and ``create`` is true, else ''."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it holds bytes that are not text"
        raise BridgeError(f"cannot read the bridge token {path}: {why}; delete it to make a new one") from None
    if text or not create:
        return text
    try:
        write_secret_file(path, secrets.token_urlsafe(32))
    except FileExistsError:
        pass  # another process made it a moment ago: read theirs
    return path.read_text(encoding="utf-8").strip()


class TokenCheck:
    """Compares presented tokens with the bridge's own in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def ok(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self._token)

    def require(self, presented: str | None) -> None:
        if not self.ok(presented):
            reason = "missing" if not presented else "wrong"
            raise UnauthorizedError(f"{reason} bearer token: send 'Authorization: Bearer <keys/{TOKEN_FILE}>'")
