"""A key from a passphrase: Argon2id, its parameters kept beside what it seals.

The passphrase comes from ``AICO_PASSPHRASE`` or is asked on the terminal (twice when it is
being chosen); it is never written anywhere.
"""

from __future__ import annotations

import base64
import getpass
import os
import sys
from typing import Any

from argon2.low_level import Type, hash_secret_raw

from aico.errors import ConfigError

PASSPHRASE_ENV = "AICO_PASSPHRASE"
# RFC 9106's second recommended option (64 MiB, 3 passes), 4 lanes: about 0.2 s here.
TIME_COST = 3
MEMORY_KIB = 64 * 1024
PARALLELISM = 4


def new_params() -> dict[str, Any]:
    return {"name": "argon2id", "time_cost": TIME_COST, "memory_kib": MEMORY_KIB, "parallelism": PARALLELISM,
            "salt": base64.b64encode(os.urandom(16)).decode()}


def derive(passphrase: str, params: dict[str, Any]) -> bytes:
    """The 256-bit key ``params`` (as recorded) give for ``passphrase``."""
    try:
        if params["name"] != "argon2id":
            raise ValueError(f"unknown key derivation {params['name']!r}")
        return bytes(hash_secret_raw(passphrase.encode(), base64.b64decode(params["salt"]),
                               time_cost=int(params["time_cost"]), memory_cost=int(params["memory_kib"]),
                               parallelism=int(params["parallelism"]), hash_len=32, type=Type.ID))
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"the key derivation parameters are not usable: {exc}") from None


def passphrase(*, confirm: bool, purpose: str) -> str:
    """``AICO_PASSPHRASE``, or asked on the terminal (twice with ``confirm``)."""
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise ConfigError(f"a passphrase is needed {purpose}: set {PASSPHRASE_ENV} or run this on a terminal")
    first = getpass.getpass(f"Passphrase {purpose}: ")
    if not first:
        raise ConfigError("an empty passphrase is not a passphrase")
    if confirm and getpass.getpass("The same passphrase again: ") != first:
        raise ConfigError("the two passphrases differ; nothing was done")
    return first
