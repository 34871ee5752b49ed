"""Detectors of private values in free text, each a regex plus a validator.

Every detector has a ``quick`` pattern: a cheap superset of what it can match, written in the
common subset of Python ``re`` and RE2 (no look-arounds, no back-references) so the same text
can be pushed down into DuckDB's ``regexp_matches``. Text that no ``quick`` pattern matches is
never changed, which lets callers skip clean text without running the detectors.

Precision matters as much as recall: look-arounds keep digits that belong to a longer token
(UUIDs, hashes, versions, timestamps) out of reach, and validators (Luhn and issuer prefixes
for cards, ``ipaddress`` for IPs, digit counts for phones) reject look-alikes.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Validator = Callable[["re.Match[str]", str], bool]


@dataclass(frozen=True)
class Detector:
    """One rule: where it may match (``quick``), what it matches, and what replaces it.

    A group named ``keep`` inside ``pattern`` is kept before the mask (``Bearer `` of a token,
    ``password=`` of an assignment); the rest of the match is replaced by ``mask``.
    """

    name: str
    mask: str
    quick: str
    pattern: re.Pattern[str]
    validate: Validator | None = None


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_issuer_ok(digits: str) -> bool:
    """Issuer prefixes and lengths of the major card networks (a Luhn pass alone is 1 in 10)."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16  # Mastercard
    if two in (34, 37):
        return n == 15  # American Express
    if digits.startswith("6011") or two == 65 or 644 <= int(digits[:3]) <= 649 or two == 62:
        return 16 <= n <= 19  # Discover, UnionPay
    if two == 35:
        return 16 <= n <= 19  # JCB
    if two in (36, 38) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19  # Diners Club
    return False


def _valid_card(m: re.Match[str], _text: str) -> bool:
    digits = re.sub(r"\D", "", m.group(0))
    return 13 <= len(digits) <= 19 and _card_issuer_ok(digits) and luhn_ok(digits)


def _valid_phone(m: re.Match[str], text: str) -> bool:
    """Digit counts by form: after a keyword 7-15, international 8-15, national trunk 9-12.

    Without a keyword, a number right after "version"/"build" is a version (``v2.345.6789``).
    """
    if m.group("kw"):
        lo, hi, value = 7, 15, m.group("kw")
    else:
        if follows_version(text, m.start()):
            return False
        value = m.group(0)
        lo, hi = (8, 15) if value.startswith("+") else (9, 12) if value.startswith("0") else (10, 10)
    return lo <= sum(ch.isdigit() for ch in value) <= hi


_VERSION_WORDS = ("version", "ver", "release", "build", "firmware", "rev", "v")
_PRODUCT = re.compile(r"[A-Za-z][\w.-]*\Z")


def follows_version(text: str, start: int) -> bool:
    """Whether ``text[start:]`` comes right after "version", "build ", "v" or a "product/" token."""
    before = text[max(0, start - 24):start]
    if before.endswith("/"):
        return _PRODUCT.search(before, 0, len(before) - 1) is not None  # "agent/1.2.3.4", not "http://"
    word = before.rstrip(" \t\n:=#")
    if len(before) - len(word) > 3:
        return False
    word = word.lower()
    for w in _VERSION_WORDS:
        if word.endswith(w):
            edge = len(word) - len(w) - 1
            return edge < 0 or not (word[edge].isalnum() or word[edge] == "_")
    return False


def _ipv4_check(keep_local: bool) -> Validator:
    def check(m: re.Match[str], text: str) -> bool:
        if follows_version(text, m.start()):
            return False  # "version 1.2.3.4", "agent/1.2.3.4"
        value = m.group(0)
        return not (keep_local and (value.startswith("127.") or value == "0.0.0.0"))

    return check


def _ipv6_check(keep_local: bool) -> Validator:
    def check(m: re.Match[str], _text: str) -> bool:
        value = m.group(0)
        if not any(ch.isdigit() for ch in value):
            return False  # "Feed::add" is a C++ scope, not an address
        if "::" not in value and value.count(":") < 7:
            return False  # times and MAC addresses
        try:
            addr = ipaddress.IPv6Address(value)
        except ValueError:
            return False
        return not (keep_local and (addr.is_loopback or addr.is_unspecified))

    return check


def words_pattern(words: Sequence[str]) -> str:
    """``api_key`` -> ``api[_-]?key``: one alternation that matches snake, kebab and camel case."""
    parts = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    return "|".join("[_-]?".join(re.escape(p) for p in w.replace("-", "_").split("_")) for w in parts)


# "phone: ", "Tel.", "mobile_number=": shared by the phone pattern and its RE2 pre-check
_PHONE_KEYWORD = (
    r"\b(?i:phone|tel(?:ephone)?|mobile|cell[_-]?phone|fax)(?i:[ _-]?(?:no|num|number|nr))?"
    r"\.?[\"']?[ \t]{0,3}[:=#]?[ \t]{0,3}[\"']?"
)
_FIRST_OCTET = r"(?:\d{1,2}|[02-9]\d\d|1[013-9]\d|12[0-68-9])"  # 0-999 but 127, in RE2
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_HEX = "[0-9A-Fa-f]"
_FLAGS = re.ASCII


def build_detectors(rules: Sequence[str], secret_names: Sequence[str], *, keep_local: bool = True
                    ) -> list[Detector]:
    """The enabled detectors in the order they run (outer tokens before what they may contain)."""
    words = words_pattern(secret_names)
    known = {
        "jwt": Detector(
            "jwt", "[JWT]", r"eyJ",
            re.compile(r"(?<![\w-])eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*", _FLAGS),
        ),
        "url_password": Detector(
            "url_password", "[SECRET]", r"://[^/\s@]*@",
            re.compile(r"(?P<keep>(?<=://)[^\s/?#@:]+:)[^\s/?#@]+(?=@)", _FLAGS),
        ),
        "bearer": Detector(
            "bearer", "[TOKEN]", r"(?i:bearer)\s",
            re.compile(r"(?P<keep>\b(?i:bearer)\s+)(?!\[[A-Z_]+\])[\w\-.~+/]{8,}=*", _FLAGS),
        ),
        "secret_value": Detector(
            "secret_value", "[SECRET]", rf"(?i:{words})[\"']?\s*[:=]",
            re.compile(
                rf"(?P<keep>(?:(?<![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))(?i:{words})[\"']?[ \t]{{0,3}}[:=][ \t]{{0,3}}"
                r"(?P<q>[\"'])?(?>(?i:(?:bearer|basic|token|digest)[ \t]+)?))"
                r"(?!\[[A-Z_]+\])(?(q)[^\"'\n]+|[^\s\"',;&<>)\]}]+)",
                _FLAGS,
            ),
        ),
        "api_key": Detector(
            "api_key", "[API_KEY]",
            r"sk-|sk_|pk_|rk_|gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|xox[abprs]-|AIza|hf_|npm_",
            re.compile(
                r"(?<![\w-])(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
                r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{40,}|glpat-[\w-]{20,}|(?:AKIA|ASIA)[A-Z0-9]{16}"
                r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[\w-]{35}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36})(?![\w-])",
                _FLAGS,
            ),
        ),
        "email": Detector(
            "email", "[EMAIL]", r"@",
            re.compile(
                r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                r"[A-Za-z]{2,24}(?![\w-])",
                _FLAGS,
            ),
        ),
        "card": Detector(
            "card", "[CARD]",
            r"(?:^|[^\w.-])(?:\d{13,19}|\d{4}[ -]\d{4}[ -]\d{4}[ -]\d{1,4}|\d{4}[ -]\d{6}[ -]\d{4})(?:$|[^\w.-])",
            re.compile(
                r"(?<![\w.-])(?:\d{13,19}|\d{4}(?P<s1>[ -])\d{4}(?P=s1)\d{4}(?P=s1)\d{1,4}(?:(?P=s1)\d{3})?"
                r"|\d{4}(?P<s2>[ -])\d{6}(?P=s2)\d{4,5})(?![\w.-]|[ -]\d)",
                _FLAGS,
            ),
            _valid_card,
        ),
        "ipv6": Detector(
            "ipv6", "[IP]", rf"::|{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{7}}",
            re.compile(
                rf"(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{{2,39}}"
                rf"(?:(?<=:){_OCTET}(?:\.{_OCTET}){{3}})?(?![\w.]|:[\w:])",
                _FLAGS,
            ),
            _ipv6_check(keep_local),
        ),
        "ipv4": Detector(
            "ipv4", "[IP]",
            # the first octet never 127 when loopback is kept: "listening on 127.0.0.1" costs nothing
            r"(?:^|[^\w.])" + (_FIRST_OCTET if keep_local else r"\d{1,3}") + r"\.\d{1,3}\.\d{1,3}\.\d{1,3}"
            r"(?:$|[^\w.]|\.(?:$|\D))",
            re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d|\w)", _FLAGS),
            _ipv4_check(keep_local),
        ),
        "phone": Detector(
            "phone", "[PHONE]",
            r"(?:^|[^\w+])\+[1-9][\d .()-]{6,}|(?:^|[^\w.+-])(?:\d{3}[-.]\d{3}[-.]\d{4}|\(\d{3}\)|0\d{2,4}[ -]\d{2})|"
            + _PHONE_KEYWORD + r"\+?\d",
            re.compile(
                # after a keyword ("phone: 5551234567"), any 7 to 15 digits
                rf"(?P<keep>{_PHONE_KEYWORD})(?P<kw>\+?\d[\d ().-]{{5,20}}\d)(?!\w|[.-]\d)"
                # international: +CC and groups
                r"|(?<![\w+])\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{1,4}){1,4}(?![\w.]|[ .-]\d)"
                # North American: (555) 234-5678, 555-234-5678, 555.234.5678 (dotted: a valid exchange)
                r"|(?<![\w.+-])(?:\([2-9]\d{2}\)[ ]?\d{3}[-. ]|[2-9]\d{2}-\d{3}-|[2-9]\d{2}\.[2-9]\d{2}\.)\d{4}"
                r"(?![\w.-]|[-.]\d)"
                # national trunk prefix: 020 7946 0958, 07700 900123
                r"|(?<![\w.+-])0\d{2,4}(?:[ -]\d{2,8}){1,3}(?![\w.-]|[ -]\d)",
                _FLAGS,
            ),
            _valid_phone,
        ),
    }
    unknown = [r for r in rules if r not in known]
    if unknown:
        from aico.errors import ConfigError

        raise ConfigError(f"core.privacy.rules: unknown rules {unknown} (known: {', '.join(known)})")
    return [known[name] for name in known if name in rules]


DETECTOR_NAMES = ("jwt", "url_password", "bearer", "secret_value", "api_key", "email", "card", "ipv6", "ipv4", "phone")
