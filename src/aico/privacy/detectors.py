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

from aico.privacy.formats import (
    iban_ok,
    national_id_ok,
    nino_ok,
    phone_possible,
    random_looking,
    routing_ok,
    ssn_ok,
)

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
    kind: str = "pii"  # "secret" (masked at ingest by default) or "pii"


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_ok(digits: str) -> bool:
    """The Luhn check (ASCII digits)."""
    total = sum(ord(ch) - 48 for ch in digits[::-2]) + sum(_DOUBLED[ord(ch) - 48] for ch in digits[-2::-2])
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


_ID_WORDS = frozenset((
    "order", "invoice", "ref", "reference", "tracking", "trace", "span", "seq", "offset", "ts", "timestamp", "epoch",
    "build", "ticket", "shipment", "pid", "uid", "inode", "nonce", "request", "req", "job", "msg", "message", "event",
    "row", "record", "batch", "txn", "transaction", "id", "no", "nr", "number", "#",
))
_CARD_WORDS = ("card", "cc", "pan", "visa", "master", "amex", "payment", "credit", "debit")
_WORD_SEPARATORS = str.maketrans("_-:=#\"'", "       ")


def _valid_card(m: re.Match[str], text: str) -> bool:
    """Luhn and issuer; a number right after an id word ("order 4111...", "trace_id=") is an id, not a card."""
    digits = "".join(ch for ch in m.group(0) if ch.isdigit())
    if not (13 <= len(digits) <= 19 and _card_issuer_ok(digits) and luhn_ok(digits)):
        return False
    before = text[max(0, m.start() - 24):m.start()].lower()
    words = before.translate(_WORD_SEPARATORS).split()
    return not (words and words[-1] in _ID_WORDS and not any(w in before for w in _CARD_WORDS))


def _valid_phone(m: re.Match[str], text: str) -> bool:
    """Digit counts by form: after a keyword 7-15, international 8-15, national trunk 9-12.

    Without a keyword, a number right after "version"/"build" is a version (``v2.345.6789``).
    """
    if m.group("kw"):
        lo, hi, value = 7, 15, str(m.group("kw"))
    else:
        if follows_version(text, m.start()):
            return False
        value = m.group(0)
        digits = sum(ch.isdigit() for ch in value)
        if value.startswith("+"):
            return 8 <= digits <= 15 and phone_possible(value)
        if value.startswith("00"):
            return 10 <= digits <= 17 and phone_possible("+" + value[2:])  # 0049 30 1234567
        lo, hi = (9, 12) if value.startswith(("0", "(0")) else (10, 10)
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


def _ipv4_check(keep_local: bool, keep_private: bool) -> Validator:
    def check(m: re.Match[str], text: str) -> bool:
        if follows_version(text, m.start()):
            return False  # "version 1.2.3.4", "agent/1.2.3.4"
        value = m.group(0)
        if keep_local and (value.startswith("127.") or value == "0.0.0.0"):
            return False
        return not (keep_private and ipaddress.IPv4Address(value).is_private)

    return check


def _ipv6_check(keep_local: bool, keep_private: bool) -> Validator:
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
        if keep_local and (addr.is_loopback or addr.is_unspecified):
            return False
        return not (keep_private and (addr.is_private or addr.is_link_local))

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


def _valid_bearer(m: re.Match[str], _text: str) -> bool:
    """A token, not a word: "Bearer eyJ...", "bearer 9f2c...", not "token_type=bearer expires_in=3600"."""
    value = m.group(0)[len(m.group("keep")):]
    return len(value) >= 24 or any(ch.isdigit() for ch in value)


def _valid_ssn(m: re.Match[str], _text: str) -> bool:
    return ssn_ok(m.group(0))


def _valid_iban(m: re.Match[str], _text: str) -> bool:
    return iban_ok(m.group(0))


def _valid_bank(m: re.Match[str], _text: str) -> bool:
    """After "routing"/"ABA", a valid routing number; after "account"/"IBAN", 6 to 34 digits or an IBAN."""
    value, word = m.group("v"), m.group("keep").lower()
    digits: int = sum(ch.isdigit() for ch in value)
    if "routing" in word or "aba" in word:
        return routing_ok(value)
    if "iban" in word:
        return iban_ok(value)
    if "sort" in word:
        return digits == 6
    return 6 <= digits <= 34


def _valid_national_id(m: re.Match[str], _text: str) -> bool:
    if m.group("kw"):
        value, word = m.group("kw"), m.group("word").lower()
        if word.startswith(("ssn", "social")):
            return ssn_ok(value, keyword=True)
        return national_id_ok(value, strict=False) or nino_ok(value) or \
            (m.group("word").lower().startswith(("passport", "pass")) and sum(c.isdigit() for c in value) >= 6)
    return national_id_ok(m.group(0), strict=True)


_CONTEXT_WORD = re.compile(
    r"(?i:secret|token|passw|pwd|key|auth|credential|signature|hmac|salt|seed|session|cookie|sig)"
)
#: names with "key" in them that hold no secret (a cache key, a public key, a key id)
_NOT_SECRET_NAMES = re.compile(
    r"(?i:(?:cache|partition|sort|primary|foreign|object|idempotency|dedup|dedupe|routing|shard|lookup|map|hash|"
    r"public|row|group|queue|bucket|s3|redis|index|unique|composite|natural|sharding|hot)[_-]?key|key[_-]?(?:id|name|"
    r"type|size|len|length|count|version|path|spec|alg|usage|ops)|kid|keys|keyboard|monkey|turkey|hockey|donkey)\Z"
)


def _valid_context_secret(m: re.Match[str], _text: str) -> bool:
    name = m.group("name")
    return _CONTEXT_WORD.search(name) is not None and not _NOT_SECRET_NAMES.search(name) \
        and random_looking(m.group("v"))


_API_KEYS = (
    # OpenAI, Anthropic, other "sk-" keys; Stripe; GitHub; GitLab; AWS access key ids; Slack; Google; Hugging Face;
    # npm; PyPI; SendGrid; Twilio; Mailgun; DigitalOcean; Shopify; Databricks; Vault; age; Postman; Grafana;
    # New Relic; Atlassian; Linear; Doppler; Azure AD client secrets; Google OAuth access tokens; Telegram bots
    r"sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{40,}|gl(?:pat|dt|rt|ptt|ft|cbt|imt|oas)-[\w-]{20,}"
    r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{20,}|AIza[\w-]{35}|ya29\.[\w-]{20,}|hf_[A-Za-z0-9]{30,}"
    r"|npm_[A-Za-z0-9]{36}|pypi-AgE[\w-]{40,}|SG\.[\w-]{16,32}\.[\w-]{30,50}|SK[0-9a-f]{32}|key-[0-9a-z]{32}"
    r"|do[por]_v1_[a-f0-9]{64}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|dapi[a-f0-9]{32}|hv[sb]\.[\w-]{24,}"
    r"|AGE-SECRET-KEY-1[0-9A-Z]{50,}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|gl(?:sa|c)_[\w-]{32,}|NRAK-[A-Z0-9]{27}"
    r"|ATATT3[\w=-]{40,}|lin_api_[A-Za-z0-9]{40}|dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,}"
    r"|[\w~.-]{3}\dQ~[\w~.-]{31,34}|\d{8,10}:AA[\w-]{33}"
    # Slack and Discord webhooks (the path is the credential), Mailchimp, Square, Heroku
    r"|(?<=hooks\.slack\.com/services/)T\w+/B\w+/\w{16,}|(?<=/api/webhooks/)\d{15,20}/[\w-]{40,}"
    r"|[0-9a-f]{32}-us\d{1,2}|sq0(?:atp|csp)-[\w-]{22,}|HRKU-[\w-]{20,}"
)
_API_QUICK = (
    r"sk-|sk_|pk_|rk_|whsec_|gh[pousr]_|github_pat_|gl[a-z]{1,4}-|gl(?:sa|c)_|A[A-Z]{3}[A-Z0-9]{16}|xox[abposr]-|xapp-|"
    r"AIza|ya29\.|hf_|npm_|pypi-|SG\.|SK[0-9a-f]{32}|key-[0-9a-z]{32}|do[por]_v1_|shp[a-z]{2}_|dapi|hv[sb]\.|"
    r"AGE-SECRET|PMAK-|NRAK-|ATATT3|lin_api_|dp\.[a-z]{2}\.|\dQ~|\d{8}:AA|hooks\.slack\.com/services/|"
    r"/api/webhooks/|-us\d|sq0|HRKU-"
)
_QUERY_NAMES = (
    r"(?i:access_token|id_token|refresh_token|auth_token|token|session_?id|session|sessid|sid|jsessionid|phpsessid|"
    r"asp\.net_sessionid|code|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|api_?key|apikey|key|secret|client_secret|password|passwd|pwd|auth|otp|ticket|st|sv_sig)"
)


def build_detectors(rules: Sequence[str], secret_names: Sequence[str], *, keep_local: bool = True,
                    keep_private: bool = False) -> list[Detector]:
    """The enabled detectors in the order they run (outer tokens before what they may contain)."""
    words = words_pattern(secret_names)
    firsts = "".join(sorted({c for w in secret_names if w.strip() for c in (w.strip()[0].lower(), w.strip()[0].upper())
                             if c.isalnum()})) or "^\\s\\S"
    known = {
        "pem": Detector(
            "pem", "[PEM]", r"-----BEGIN |(?:^|[^\w+/])MII[A-Za-z0-9+/]{60}",
            re.compile(
                r"-----BEGIN [A-Z0-9 ]{1,40}-----(?:(?!-----END )[\s\S]){0,65536}(?:-----END [A-Z0-9 ]{1,40}-----)?"
                r"|(?<![\w+/])MII[A-Za-z0-9+/]{60,}={0,2}",
                _FLAGS,
            ),
            kind="secret",
        ),
        "jwt": Detector(
            "jwt", "[JWT]", r"eyJ",
            re.compile(r"(?<![\w-])eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*", _FLAGS),
            kind="secret",
        ),
        "url_password": Detector(
            "url_password", "[SECRET]", r"://[^/\s@]*@|(?i:%3A%2F%2F)\S*(?i:%40)",
            re.compile(
                r"(?P<keep>(?<=://)[^\s/?#@:]*:)[^\s/?#@]+(?=@)"
                # a token as the whole userinfo: https://<key>@o1.ingest.sentry.io, https://ghp_...@github.com
                r"|(?<=://)[A-Za-z0-9_-]{20,}(?=@)"
                r"|(?P<keep2>(?i:%3A%2F%2F)[^\s&/%]*(?:%(?!3[Aa])[0-9A-Fa-f]{2}[^\s&/%]*)*(?i:%3A))[^\s&/]+?(?=(?i:%40))",
                _FLAGS,
            ),
            kind="secret",
        ),
        "cookie": Detector(
            "cookie", "[SECRET]", r"(?i:cookie)[\"']?[ \t]*[:=]",
            re.compile(
                r"(?P<keep>\b(?i:set-cookie|cookie)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)(?!\[[A-Z_]+\])"
                r"[^\r\n\"';]+(?:;[ \t]*(?!(?i:path|domain|expires|max-age|secure|httponly|samesite|partitioned|"
                r"priority)\b)[^\r\n\"';]+)*",
                _FLAGS,
            ),
            kind="secret",
        ),
        "bearer": Detector(
            "bearer", "[TOKEN]", r"(?i:bearer)\s",
            re.compile(r"(?P<keep>\b(?i:bearer)\s+)(?!\[[A-Z_]+\])[\w\-.~+/]{8,}=*", _FLAGS),
            _valid_bearer,
            kind="secret",
        ),
        "query_token": Detector(
            "query_token", "[SECRET]", r"[?&;]" + _QUERY_NAMES + r"=[^&\s#]",
            re.compile(rf"(?P<keep>[?&;]{_QUERY_NAMES}=)(?!\[[A-Z_]+\])[^&\s#\"'<>]+", _FLAGS),
            kind="secret",
        ),
        "secret_value": Detector(
            "secret_value", "[SECRET]", rf"(?i:{words})[\"']?\s*[:=]|--(?i:{words})[ =]",
            re.compile(
                # the lookahead of first letters lets the engine skip most positions at once (3x faster)
                rf"(?=[{firsts}-])(?:(?P<keep>(?:(?<![A-Za-z0-9])|(?<=[a-z])(?=[A-Z]))(?i:{words})"
                r"[\"']?[ \t]{0,3}[:=][ \t]{0,3}"
                r"(?P<q>[\"'])?(?>(?i:(?:bearer|basic|token|digest)[ \t]+)?))"
                r"(?!\[[A-Z_]+\])(?(q)[^\"'\n]+|(?:[^\s\"',;&<>)\]}]|&(?![\w.-]+=))+)"
                # a command line: --password VALUE
                rf"|(?P<keep2>(?<![\w-])--(?i:{words})[ ]+)(?![-\[])[^\s\"']+)",
                _FLAGS,
            ),
            kind="secret",
        ),
        "api_key": Detector(
            "api_key", "[API_KEY]", _API_QUICK,
            re.compile(rf"(?<![\w-])(?:{_API_KEYS})(?![\w-])", _FLAGS),
            kind="secret",
        ),
        "high_entropy": Detector(
            "high_entropy", "[SECRET]",
            r"(?i:secret|token|passw|pwd|key|auth|credential|signature|hmac|salt|seed|session|cookie|sig)"
            r"[\w.-]*[\"']?[ \t]*[:=][ \t]*[\"']?[A-Za-z0-9+/_=.~-]{16}",
            re.compile(
                r"(?P<keep>(?<![\w.-])(?P<name>[\w.-]{1,60}+)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)(?!\[[A-Z_]+\])"
                r"(?P<v>[A-Za-z0-9+/_=.~-]{16,})",
                _FLAGS,
            ),
            _valid_context_secret,
            kind="secret",
        ),
        "email": Detector(
            "email", "[EMAIL]", r"@",
            re.compile(
                r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                r"[A-Za-z]{2,24}(?![\w-])",
                _FLAGS,
            ),
        ),
        "iban": Detector(
            "iban", "[IBAN]", r"(?:^|[^\w])[A-Z]{2}\d\d[ ]?[A-Z0-9]{4}",
            re.compile(r"(?<![\w-])[A-Z]{2}\d\d(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![\w-])", _FLAGS),
            _valid_iban,
        ),
        "bank_account": Detector(
            "bank_account", "[ACCOUNT]",
            r"\b(?i:(?:bank[ _-]?)?(?:account|acct)|routing|aba|sort[ _-]?code|bsb|iban|kontonummer|clabe)"
            r"(?i:[ _-]?(?:no|num|number|nr|#))?\.?[\"']?[ \t]{0,3}[:=#]?[ \t]{0,3}[\"']?(?:[A-Z]{2})?\d",
            re.compile(
                r"(?P<keep>\b(?i:(?:bank[ _-]?)?(?:account|acct)(?:[ _-]?(?:no|num|number|nr|#))?|routing"
                r"(?:[ _-]?(?:no|num|number))?|aba|sort[ _-]?code|bsb|iban|kontonummer|clabe)\.?[\"']?[ \t]{0,3}"
                r"[:=#]?[ \t]{0,3}[\"']?)(?P<v>(?:[A-Z]{2}\d\d[ ]?)?\d[\d -]{4,32}\d)(?![\w-]|[.,]\d)",
                _FLAGS,
            ),
            _valid_bank,
        ),
        "card": Detector(
            "card", "[CARD]",
            r"(?:^|[^\w.-])(?:\d{13,19}|\d{4}(?:[ -]\d{3,6}){2,4})(?:$|[^\w.-])",
            re.compile(
                # 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 4-4-5, 4-3-3-3 (13-digit Visa), 4-4-4-4-3
                r"(?<![\w.-])(?:\d{13,19}|\d{4}(?P<s1>[ -])\d{3,6}(?P=s1)\d{3,6}(?:(?P=s1)\d{3,4}){0,2})"
                r"(?![\w.-]|[ -]\d)",
                _FLAGS,
            ),
            _valid_card,
            kind="secret",
        ),
        "ssn": Detector(
            "ssn", "[SSN]", r"(?:^|[^\w.-])\d{3}-\d{2}-\d{4}(?:$|[^\w-])",
            re.compile(r"(?<![\w.-])\d{3}-\d{2}-\d{4}(?![\w-]|\.\d)", _FLAGS),
            _valid_ssn,
        ),
        "national_id": Detector(
            "national_id", "[NATIONAL_ID]",
            r"\b(?i:ssn|social|national|nino|insurance|passport|tax|tin|steuer|idnr|dni|nie|nif|bsn|cpf|aadhaar|"
            r"pesel|personnummer|sin|nir|cpr|hetu|codice|ahv|nhs|itin|id[ _-]?(?:no|number|card))\b|"
            r"(?:^|[^\w.-])(?:\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z]|\d{3}\.\d{3}\.\d{3}-\d\d|[A-Z]{6}\d\d[A-Z]\d\d[A-Z]\d{3}[A-Z]"
            r"|[2-9]\d{3} \d{4} \d{4}|\d{6}[-+]\d{4}|[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D])(?:$|[^\w-])",
            re.compile(
                r"(?P<keep>\b(?P<word>(?i:ssn|social[ _-]?security(?:[ _-]?(?:no|number))?"
                r"|national[ _-]?(?:id|insurance)"
                r"(?:[ _-]?(?:no|number))?|nino|passport(?:[ _-]?(?:no|number|nr))?|tax[ _-]?(?:id|number)|tin|"
                r"steuer[ _-]?id|idnr|dni|nie|nif|bsn|cpf|aadhaar|pesel|personnummer|sin|nir|cpr|hetu|"
                r"codice[ _-]?fiscale|ahv|nhs(?:[ _-]?(?:no|number))?|itin|id[ _-]?(?:no|number|card)))\.?[\"']?"
                r"[ \t]{0,3}[:=#]?[ \t]{0,3}[\"']?)(?P<kw>[A-Z0-9](?:[A-Z0-9.+-]|[ ](?=\d)){4,20}[A-Z0-9])(?![\w-])"
                r"|(?<![\w.-])(?:\d{8}-?[A-Z]|[XYZ]-?\d{7}-?[A-Z]|\d{3}\.\d{3}\.\d{3}-\d\d"
                r"|[A-Z]{6}\d\d[A-Z]\d\d[A-Z]\d{3}[A-Z]|[2-9]\d{3} \d{4} \d{4}|\d{6}[-+]\d{4}"
                r"|[A-Z]{2} ?\d\d ?\d\d ?\d\d ?[A-D])(?![\w-]|[ -]\d)",
                _FLAGS,
            ),
            _valid_national_id,
        ),
        "ipv6": Detector(
            "ipv6", "[IP]", rf"::|{_HEX}{{1,4}}(?::{_HEX}{{1,4}}){{7}}",
            re.compile(
                rf"(?<![\w:.])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{{2,39}}"
                rf"(?:(?<=:){_OCTET}(?:\.{_OCTET}){{3}})?(?![\w.]|:[\w:])",
                _FLAGS,
            ),
            _ipv6_check(keep_local, keep_private),
        ),
        "ipv4": Detector(
            "ipv4", "[IP]",
            # the first octet never 127 when loopback is kept: "listening on 127.0.0.1" costs nothing
            r"(?:^|[^\w.])" + (_FIRST_OCTET if keep_local else r"\d{1,3}") + r"\.\d{1,3}\.\d{1,3}\.\d{1,3}"
            r"(?:$|[^\w.]|\.(?:$|\D))",
            re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d|\w)", _FLAGS),
            _ipv4_check(keep_local, keep_private),
        ),
        "phone": Detector(
            "phone", "[PHONE]",
            r"(?:^|[^\w+])\+[1-9][\d .()-]{6,}|(?:^|[^\w.+-])(?:\d{3}[-.]\d{3}[-.]\d{4}|\(\d{3}\)|\(0\d{1,4}\)|"
            r"0\d{1,4}[ -./]\d{2})|" + _PHONE_KEYWORD + r"\+?\d",
            re.compile(
                # after a keyword ("phone: 5551234567"), any 7 to 15 digits
                rf"(?P<keep>{_PHONE_KEYWORD})(?P<kw>\+?\d[\d ().-]{{5,20}}\d)(?!\w|[.-]\d)"
                # international: +CC and groups (country code and length checked by phonenumbers)
                r"|(?<![\w+])\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{1,4}){1,5}(?![\w.]|[ .-]\d)"
                # North American: (555) 234-5678, 555-234-5678, 555.234.5678 (dotted: a valid exchange)
                r"|(?<![\w.+-])(?:\([2-9]\d{2}\)[ ]?\d{3}[-. ]|[2-9]\d{2}-\d{3}-|[2-9]\d{2}\.[2-9]\d{2}\.)\d{4}"
                r"(?![\w.-]|[-.]\d)"
                # national trunk prefix: 020 7946 0958, 07700 900123, 06 12 34 56 78, (02) 9876 5432, 030/1234567
                r"|(?<![\w.+-])(?:\(0[1-9]\d{0,3}\)[ ]?\d{2,8}|0[1-9]\d{0,3}|00[1-9]\d{0,2})(?:[ -./]\d{2,8}){1,4}"
                r"(?![\w.-]|[ -./]\d)",
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


DETECTOR_NAMES = ("pem", "jwt", "url_password", "cookie", "bearer", "query_token", "secret_value", "api_key",
                  "high_entropy", "email", "iban", "bank_account", "card", "ssn", "national_id", "ipv6", "ipv4",
                  "phone")
SECRET_RULES = frozenset(("pem", "jwt", "url_password", "cookie", "bearer", "query_token", "secret_value", "api_key",
                          "high_entropy", "card"))
