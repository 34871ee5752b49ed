"""CurveZMQ keys of the bus: made on first use, kept 0600 in ``$AICO_HOME/keys/``, never in source.

``bus.keys`` holds the broker's keypair and the local clients' keypair (z85). Every local
process of the user reads it; the file's permissions are the trust boundary, as for the
database key. The broker's ZAP handler admits the local client key and any public key
listed, one per line, in ``bus_clients.allow`` (other machines' producers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import zmq

from aico.config.settings import Settings
from aico.errors import BusError
from aico.keys import write_secret_file

KEYS_FILE = "bus.keys"
ALLOW_FILE = "bus_clients.allow"


_ALLOWED: dict[Path, tuple[tuple[int, int, int] | None, set[bytes]]] = {}  # file -> (its stamp, its keys)


@dataclass(frozen=True)
class BusKeys:
    server_public: bytes
    server_secret: bytes
    client_public: bytes
    client_secret: bytes
    allow_file: Path

    def allowed(self) -> set[bytes]:
        """Client public keys the broker admits: the local one, plus the allow-list (read again
        whenever the file changed, so ``aico bus allow`` takes effect without a restart)."""
        try:
            st = self.allow_file.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        cached = _ALLOWED.get(self.allow_file)
        if cached is not None and cached[0] == stamp:
            return {self.client_public} | cached[1]
        listed: set[bytes] = set()
        try:
            for line in self.allow_file.read_text(encoding="ascii").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    listed.add(line.encode("ascii"))
        except (OSError, UnicodeDecodeError):
            pass
        _ALLOWED[self.allow_file] = (stamp, listed)
        return {self.client_public} | listed


def _new_keys_text() -> str:
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    return json.dumps({
        "server_public": server_public.decode(), "server_secret": server_secret.decode(),
        "client_public": client_public.decode(), "client_secret": client_secret.decode(),
    })


def bus_keys(settings: Settings) -> BusKeys | None:
    """The bus keys, made now if this is the first process to need them; None if CURVE is off."""
    if not settings.core.message_bus.curve:
        return None
    path = settings.keys_dir / KEYS_FILE
    try:
        text = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        if not text:
            text = write_secret_file(path, _new_keys_text())
        data = json.loads(text)
        return BusKeys(
            server_public=data["server_public"].encode(), server_secret=data["server_secret"].encode(),
            client_public=data["client_public"].encode(), client_secret=data["client_secret"].encode(),
            allow_file=settings.keys_dir / ALLOW_FILE,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise BusError(f"cannot read the bus keys {path}: {exc}") from exc
