"""Rotating the keys that protect no data at rest: the bus keypairs, the tokens, the privacy key.

A process that holds the old one keeps it until it restarts: the command says which to restart.
The privacy key is the HMAC key of pseudonyms: nothing stored is encrypted under it, but a new
key gives every value a new pseudonym, so a value seen before and after cannot be matched.
"""

from __future__ import annotations

import json
import secrets

from aico.config.settings import Settings
from aico.errors import ConfigError
from aico.keys import find_key
from aico.keyset.inventory import fingerprint, look, spec
from aico.keyset.keeping import _replace_file, put_key

RESTART = {
    "bus": "restart the backend and every application that logs (they connect with the old client key until then)",
    "bridge-token": "restart the backend (its bridge reads the token at start); give the new token to the frontends",
    "dashboard-token": "restart the backend (the dashboard reads the token at start); log in again",
    "privacy": "every pseudonym changes: a value pseudonymised before and after the rotation no longer matches; "
               "restart the backend and every application that scrubs records (they use the old key until then)",
}


def _new_text(label: str) -> str:
    if label == "bus":
        import zmq

        server_public, server_secret = zmq.curve_keypair()
        client_public, client_secret = zmq.curve_keypair()
        return json.dumps({"server_public": server_public.decode(), "server_secret": server_secret.decode(),
                           "client_public": client_public.decode(), "client_secret": client_secret.decode()})
    return secrets.token_urlsafe(32)


def rotate_other(settings: Settings, label: str) -> tuple[str, str]:
    """Replace the bus keys or a token; (old, new) fingerprints. The restart needed is on stderr."""
    if label not in RESTART:
        raise ConfigError(f"rotating the {label} key is not supported yet: see README, Keys")
    s = spec(label)
    old = look(settings, s)
    if not s.whole_file:
        found = find_key(settings, s.name, s.env_var)
        if found is not None and found[0] == "environment":
            raise ConfigError(f"the {label} key comes from {s.env_var}: unset it so aico keeps the key, then rotate")
        text = secrets.token_hex(32)
        put_key(settings, s.name, text, found[0] if found else ("passphrase" if settings.core.security.passphrase
                                                               else "file"))
        import sys

        sys.stderr.write(f"aico: the {label} key changed: {RESTART[label]}\n")
        return (old.fingerprint or "-"), fingerprint(text)
    text = _new_text(label)
    _replace_file(settings.keys_dir / s.name, text)
    import sys

    sys.stderr.write(f"aico: the {label} key changed: {RESTART[label]}\n")
    return (old.fingerprint or "-"), fingerprint(text)
