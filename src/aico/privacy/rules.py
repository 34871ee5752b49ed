"""The privacy rules (``core.privacy`` in the configuration) and how field names are judged."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aico.config.settings import Settings

DROP, SECRET, PSEUDONYMIZE = "drop", "secret", "pseudonymize"
_UNJUDGED: Any = object()
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def field_key(name: str) -> str:
    """``apiKey``, ``API-KEY``, ``x.api_key`` -> ``api_key``, ``x_api_key``: one spelling to compare."""
    return _SEPARATORS.sub("_", _CAMEL.sub("_", name).lower()).strip("_")


@dataclass(frozen=True)
class PrivacyRules:
    """What the scrubber does. The defaults live in ``core.privacy`` of ``defaults/core.yaml``."""

    rules: tuple[str, ...]
    secret_names: tuple[str, ...]
    drop_fields: tuple[str, ...] = ()
    pseudonymize_fields: tuple[str, ...] = ("user_id",)
    keep_local_addresses: bool = True
    keep_private_addresses: bool = False
    pii_action: str = "mask"
    _secret: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _drop: frozenset[str] = field(init=False, repr=False, compare=False)
    _pseudo: frozenset[str] = field(init=False, repr=False, compare=False)
    _verdicts: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_secret", tuple(field_key(n) for n in self.secret_names))
        object.__setattr__(self, "_drop", frozenset(field_key(n) for n in self.drop_fields))
        object.__setattr__(self, "_pseudo", frozenset(field_key(n) for n in self.pseudonymize_fields))
        object.__setattr__(self, "_verdicts", {})

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyRules:
        p = settings.core.privacy
        return cls(
            rules=tuple(p.rules), secret_names=tuple(p.secret_names), drop_fields=tuple(p.drop_fields),
            pseudonymize_fields=tuple(p.pseudonymize_fields), keep_local_addresses=p.keep_local_addresses,
            keep_private_addresses=p.keep_private_addresses, pii_action=p.pii_action,
        )

    def is_secret(self, name: str) -> bool:
        """A name that says secret: ``password``, ``db_password``, ``accessToken``; not ``max_tokens``."""
        return self.judge(name) == SECRET

    def is_dropped(self, name: str) -> bool:
        return self.judge(name) == DROP

    def is_pseudonymized(self, name: str) -> bool:
        return self.judge(name) == PSEUDONYMIZE

    def judge(self, name: str) -> str | None:
        """What the rules do with a field of this name (drop wins over secret, secret over pseudonymise)."""
        verdict: str | None = self._verdicts.get(name, _UNJUDGED)
        if verdict is _UNJUDGED:
            key = field_key(name)
            if key in self._drop:
                verdict = DROP
            elif any(key == s or key.endswith("_" + s) for s in self._secret):
                verdict = SECRET
            elif key in self._pseudo:
                verdict = PSEUDONYMIZE
            else:
                verdict = None
            if len(self._verdicts) < 10_000:  # field names repeat; the cache stays small
                self._verdicts[name] = verdict
        return verdict

    def name_words(self) -> Sequence[str]:
        """Every field name a rule acts on (for the pre-check of JSON text)."""
        return (*self.secret_names, *self.drop_fields, *self.pseudonymize_fields)
