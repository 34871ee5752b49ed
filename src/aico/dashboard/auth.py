"""Who may read the dashboard: a bearer token, or the session cookie a one-time login link buys.

The token is 256 random bits in ``keys/dashboard.token`` (0600), made at first start, as the
bridge's: API clients send it (``Authorization: Bearer ...``; ``aico dashboard token``).
People open the link ``aico dashboard url`` prints: it carries a one-time login code
(``logins.py``: valid once, for a few minutes) in the URL *fragment* (``/#login=...``), which a
browser never sends to a server, so the code stays out of request lines, proxies and Referer
headers. The page sends it once to ``POST /api/v1/session`` (``Authorization: Login <code>``);
the answer sets an HttpOnly, SameSite=Strict cookie for ``/`` that expires (``SESSION_TTL_S``),
holding its expiry signed with a key derived from the token (not the token), and the page drops
the fragment from its address. A used or expired code is refused (401); so is an expired cookie.

On a loopback address the ``Host`` header must name a loopback host too: a web page from
elsewhere whose name is made to resolve to 127.0.0.1 (DNS rebinding) gets 421, not the API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from aico.bridge.auth import token_in
from aico.config.settings import LOOPBACK_HOSTS, Settings
from aico.errors import UnauthorizedError

TOKEN_FILE = "dashboard.token"
COOKIE = "aico_dashboard"
SESSION_TTL_S = 12 * 3600  # a working day; then a new link (aico dashboard url or open)


def token_path(settings: Settings) -> Path:
    return settings.keys_dir / TOKEN_FILE


def load_token(settings: Settings) -> str:
    """The token in ``keys/dashboard.token``, made there first if missing."""
    return token_in(token_path(settings))


class Gate:
    """Checks a request's token or session cookie in constant time; ``enabled=False`` lets everyone in.

    ``clock`` (seconds since the epoch) is what session expiry and login codes are measured by:
    tests pass their own instead of waiting.
    """

    def __init__(self, token: str, *, enabled: bool = True, clock: Callable[[], float] = time.time,
                 session_ttl: int = SESSION_TTL_S) -> None:
        self.enabled = enabled
        self.clock = clock
        self.session_ttl = session_ttl
        self._token = token.encode()
        self._key = hmac.new(self._token, b"aico dashboard session", hashlib.sha256).digest()

    def token_ok(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self._token)

    def _sign(self, expires: int) -> str:
        return hmac.new(self._key, str(expires).encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        """A cookie value good until ``session_ttl`` seconds from now: ``<expiry>.<signature>``."""
        expires = int(self.clock()) + self.session_ttl
        return f"{expires}.{self._sign(expires)}"

    def session_ok(self, cookie: str | None) -> bool:
        stamp, _, signature = (cookie or "").partition(".")
        if not stamp.isdigit() or len(stamp) > 12:
            return False
        expires = int(stamp)
        return secrets.compare_digest(signature.encode(), self._sign(expires).encode()) and self.clock() < expires

    def check(self, authorization: str | None, cookie: str | None) -> None:
        if not self.enabled:
            return
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and self.token_ok(presented.strip()):
            return
        if self.session_ok(cookie):
            return
        reason = "wrong bearer token" if authorization else "expired or unknown session" if cookie else "no token"
        raise UnauthorizedError(f"{reason}: open the link `aico dashboard url` prints, or send "
                                f"'Authorization: Bearer <keys/{TOKEN_FILE}>'")


def host_allowed(host_header: str | None, bind_host: str) -> bool:
    """Whether a request's ``Host`` names this server as its owner would (loopback binds only)."""
    if bind_host not in LOOPBACK_HOSTS and not bind_host.startswith("127."):
        return True  # bound elsewhere on purpose: auth is on (the plugin refuses otherwise)
    if not host_header:
        return False
    name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    name = name.strip("[]").lower()
    return name in LOOPBACK_HOSTS or name.startswith("127.")
