"""Validators of checksummed and structured formats, backed by ``python-stdnum`` and ``phonenumbers``.

A detector's regex finds the shape; these decide whether the shape is the real thing (an IBAN
whose mod-97 check holds, a phone number whose country code and length are possible, a national
id whose check digit is right). Imports are lazy: the ingest path pays for them only once a
candidate of that kind shows up.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache
from types import ModuleType

_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")


def compact(value: str) -> str:
    return _NON_ALNUM.sub("", value)


@cache
def _stdnum(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"stdnum.{name}")


def iban_ok(value: str) -> bool:
    """Country, length and the mod-97 check (not each country's own BBAN check: a mistyped national
    check digit is still somebody's account number)."""
    try:
        _stdnum("iban").validate(compact(value).upper(), check_country=False)
    except Exception:  # noqa: BLE001 - stdnum's ValidationError and anything odd: the answer is no
        return False
    return True


def ssn_ok(value: str, *, keyword: bool = False) -> bool:
    """A US SSN: area not 000/666/9xx, group and serial not zero; stdnum also rejects the numbers
    used in advertising, except right after "SSN" (someone typed it as theirs)."""
    digits = compact(value)
    if keyword:
        return len(digits) == 9 and digits.isdigit() and digits[:3] not in ("000", "666") and digits[0] != "9" \
            and digits[3:5] != "00" and digits[5:] != "0000"
    return bool(_stdnum("us.ssn").is_valid(digits))


def routing_ok(value: str) -> bool:
    return bool(_stdnum("us.rtn").is_valid(compact(value)))


#: National id formats with a check digit or letter, tried by shape (``national_id_ok``).
NATIONAL_IDS = ("es.dni", "es.nie", "br.cpf", "it.codicefiscale", "in_.aadhaar", "se.personnummer", "fr.nir",
                "ca.sin", "nl.bsn", "pl.pesel", "de.idnr", "dk.cpr", "fi.hetu", "be.nn", "ch.ssn", "gb.nhs",
                "us.itin", "us.ssn")
_NINO = re.compile(r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]?\Z")


def nino_ok(value: str) -> bool:
    """A UK National Insurance number (prefix letters and the suffix rules of HMRC)."""
    return _NINO.match(compact(value).upper()) is not None


def national_id_ok(value: str, *, strict: bool) -> bool:
    """Whether ``value`` is a valid id of one of ``NATIONAL_IDS`` (or a UK NINO).

    ``strict`` (no keyword said "id" nearby): only formats whose check is strong and whose
    shape is distinctive count; after a keyword, any of them.
    """
    if nino_ok(value):
        return True
    candidates = ("es.dni", "es.nie", "br.cpf", "it.codicefiscale", "in_.aadhaar", "se.personnummer",
                  "fr.nir") if strict else NATIONAL_IDS
    for name in candidates:
        try:
            if _stdnum(name).is_valid(value):
                return True
        except Exception:  # noqa: BLE001 - a validator that chokes on odd input says no
            continue
    return False


def phone_possible(value: str) -> bool:
    """An international number (``+CC ...``) whose country code exists and whose length fits it."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


#: a path or URL path: starts like one, or all its segments are lower-case words (base64 mixes cases)
_PATH = re.compile(r"(?:\.{0,2}/|~/|[a-z][a-z0-9+.-]*://)|[a-z0-9._-]+(?:/[a-z0-9._-]*)+\Z")
_HEX_ONLY = re.compile(r"[0-9a-fA-F]+\Z")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def random_looking(value: str) -> bool:
    """A value a person did not type: long, mixed, high entropy (not a word, path, UUID or version)."""
    v = value.strip("\"'")
    if len(v) < 16 or _UUID.match(v) or _PATH.match(v):
        return False
    if _HEX_ONLY.match(v):
        return len(v) >= 20 and entropy(v) >= 3.0
    classes = sum((any(c.islower() for c in v), any(c.isupper() for c in v), any(c.isdigit() for c in v)))
    return classes >= 2 and entropy(v) >= 3.3
