"""Our record -> OTLP -> our record gives back every field, for any text and any extra within limits."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aico.bridge.otlp import _varint
from aico.errors import ValidationError
from aico.otlp import names
from aico.otlp.decode import Defaults, decode, parse_json, parse_protobuf
from aico.otlp.encode import encode
from aico.schema.record import COLUMNS, loads, normalize

from support import examples, stamp

pytestmark = pytest.mark.clock  # records stamped relative to now
EXAMPLES = int(os.environ.get("AICO_HYPOTHESIS_EXAMPLES") or examples(60))
RESERVED = {*names.FUNCTION, *names.FILE, *names.LINE, names.USER_ID, names.SESSION_ID, names.EXCEPTION_TYPE,
            names.EXCEPTION_MESSAGE, names.EXCEPTION_STACK, names.SPAN_ID, names.TRACE_FLAGS, names.EVENT_NAME,
            names.RESOURCE, names.SCOPE_VERSION}
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
word = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20).filter(str.strip)
key = word.filter(lambda k: k not in RESERVED and not k.startswith("aico."))
scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False,
                                                                                   allow_infinity=False) | text
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
                     max_leaves=8)
maybe = st.none() | word


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    details = draw(st.none() | st.fixed_dictionaries({"type": word, "message": text, "stack": text},
                                                     optional={"code": st.integers(0, 99)}))
    raw = {
        "timestamp": stamp(draw(st.floats(0, 86_400 * 30))), "level": draw(st.sampled_from(
            ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])),
        "subsystem": draw(word), "module": draw(word), "function": draw(word), "topic": draw(word),
        "message": draw(text), "file": draw(maybe), "line": draw(st.none() | st.integers(0, 2**31 - 1)),
        "trace_id": draw(st.none() | word | st.text("0123456789abcdef", min_size=32, max_size=32)),
        "session_id": draw(maybe), "user_id": draw(maybe), "severity": draw(maybe), "origin": draw(word),
        "environment": draw(maybe), "extra": draw(st.dictionaries(key, value, max_size=4)), "error_details": details,
        "producer_id": "frontend:p-1", "seq": draw(st.integers(1, 2**63 - 1)),
    }
    return normalize(raw)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(records(), min_size=1, max_size=4))
def test_records_survive_the_round_trip(originals: list[dict[str, Any]]) -> None:
    """encode then decode (through protobuf bytes) gives back every column, in order."""
    body = encode(originals).SerializeToString()
    decoded = decode(parse_protobuf(body)[0], Defaults(subsystem="x"), "frontend:otlp-test")
    assert decoded.rejected == 0, decoded.problems
    for original, copy in zip(originals, decoded.records, strict=True):
        for column in COLUMNS:
            if column in ("extra", "error_details"):
                assert loads(copy[column] or "null") == loads(original[column] or "null"), column
            else:
                assert copy[column] == original[column], column


def test_deep_nesting_is_refused_not_crashing() -> None:
    """An attribute nested thousands deep: its record rejected (JSON) or a 400 (protobuf), no RecursionError."""
    value: dict[str, Any] = {"stringValue": "x"}
    for _ in range(3000):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"attributes": [{"key": "deep", "value": value}]}]}]}]}
    _, bad = parse_json(body)  # JSON: that record is rejected (by position), the request is read
    assert bad[(0, 0, 0)].startswith("unreadable")
    any_value = b"\x0a\x01x"  # AnyValue{string_value: "x"}
    for _ in range(3000):  # AnyValue{kvlist_value{values{key: "", value: <inner>}}}
        kv = field(2, any_value)
        any_value = field(6, field(1, kv))
    log = field(6, field(1, b"k") + field(2, any_value))  # LogRecord{attributes}
    with pytest.raises(ValidationError):
        parse_protobuf(field(1, field(2, field(2, log))))
    with pytest.raises(ValidationError):  # a length past the end of the body
        parse_protobuf(b"\x0a\xff\xff\xff\xff\x0f")


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload
