"""Who may read the dashboard: a bearer token, or the session cookie the login link sets.

The token is 256 random bits in ``keys/dashboard.token`` (0600), made at first start, as the
bridge's. ``aico dashboard url`` prints a login link carrying it in the URL *fragment*
(``/#token=...``): a browser never sends a fragment to the server, so the token stays out of
request lines, proxies and Referer headers. The page sends it once to ``POST /api/v1/session``
in an ``Authorization`` header; the answer sets an HttpOnly, SameSite=Strict cookie holding a
value derived from the token (not the token), and the page drops the fragment from its address.

On a loopback address the ``Host`` header must name a loopback host too: a web page from
elsewhere whose name is made to resolve to 127.0.0.1 (DNS rebinding) gets 421, not the API.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from aico.bridge.auth import token_in
from aico.config.settings import LOOPBACK_HOSTS, Settings
from aico.errors import UnauthorizedError

TOKEN_FILE = "dashboard.token"
COOKIE = "aico_dashboard"


def token_path(settings: Settings) -> Path:
    return settings.keys_dir / TOKEN_FILE


def load_token(settings: Settings) -> str:
    """The token in ``keys/dashboard.token``, made there first if missing."""
    return token_in(token_path(settings))


class Gate:
    """Checks a request's token or cookie in constant time; ``enabled=False`` lets everyone in."""

    def __init__(self, token: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._token = token.encode()
        self.session = hmac.new(self._token, b"aico dashboard session", hashlib.sha256).hexdigest()

    def token_ok(self, presented: str | None) -> bool:
        return presented is not None and secrets.compare_digest(presented.encode(), self._token)

    def check(self, authorization: str | None, cookie: str | None) -> None:
        if not self.enabled:
            return
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and self.token_ok(presented.strip()):
            return
        if cookie is not None and secrets.compare_digest(cookie.encode(), self.session.encode()):
            return
        reason = "wrong bearer token" if authorization else "no token"
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
