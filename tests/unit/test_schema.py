"""The record schema: validation, normalisation, and the wire round trip.

Fixed timestamps on purpose: normalisation is a pure function of its input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aico.errors import ValidationError
from aico.schema import COLUMNS, normalize, wire
from aico.schema.levels import at_least, parse_level
from aico.schema.record import loads
from aico.schema.timestamps import normalize_timestamp
from aico.store.writer import encode_rows

from support import examples

BASE = {"timestamp": "2026-11-21T04:00:00Z", "level": "INFO", "module": "m", "function": "f",
        "topic": "t", "message": "hello"}


@pytest.mark.parametrize(("given_", "expected"), [("warn", "WARNING"), ("FATAL", "CRITICAL"),
                                                  ("Info", "INFO"), (40, "ERROR")])
def test_levels_accept_case_and_aliases(given_: object, expected: str) -> None:
    """Levels are case-insensitive; WARN and FATAL are aliases."""
    assert parse_level(given_) == expected


def test_unknown_level_is_named() -> None:
    """An unknown level is a field error on `level`."""
    with pytest.raises(ValidationError, match="level: unknown level 'LOUD'"):
        normalize({**BASE, "level": "LOUD"})


def test_threshold() -> None:
    """`at_least('warning')` is WARNING and above."""
    assert at_least("warning") == ["WARNING", "ERROR", "CRITICAL"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-21T06:00:00+02:00", "2026-11-21T04:00:00.000000Z"),
        ("2026-11-21T04:00:00.5", "2026-11-21T04:00:00.500000Z"),
        (1763697600, "2025-11-21T04:00:00.000000Z"),
        (1763697600123, "2025-11-21T04:00:00.123000Z"),
    ],
)
def test_timestamps_become_utc_with_microseconds(value: object, expected: str) -> None:
    """Any offset, naive (UTC) or epoch seconds/milliseconds becomes canonical UTC text."""
    assert normalize_timestamp(value) == expected


def test_every_missing_required_field_is_listed() -> None:
    """A record missing several required fields names each one."""
    with pytest.raises(ValidationError) as err:
        normalize({"level": "INFO"})
    assert {e.field for e in err.value.errors} == {"timestamp", "module", "function", "topic", "message"}


def test_wrong_types_are_field_errors() -> None:
    """Wrong types are reported per field, never a crash."""
    with pytest.raises(ValidationError) as err:
        normalize({**BASE, "line": "42", "extra": [1], "message": 5})
    assert {e.field for e in err.value.errors} == {"line", "extra", "message"}


def test_oversized_message_is_rejected() -> None:
    """A message over the byte limit is refused with the limit in the reason."""
    with pytest.raises(ValidationError, match="exceeds the 1024-byte limit"):
        normalize({**BASE, "message": "x" * 2000}, max_message_bytes=1024)


def test_unknown_keys_are_kept_in_extra() -> None:
    """Fields outside the schema are not lost: they land in `extra`."""
    record = normalize({**BASE, "extra": {"a": 1}, "screen": "home"})
    assert json.loads(record["extra"]) == {"a": 1, "screen": "home"}


def test_function_name_stands_in_for_function_under_the_same_rules() -> None:
    """`function_name` (the consumer document's name) fills a missing `function`, judged as `function` is:
    a value the collector would refuse is refused here, so no accepted record is lost on the way."""
    bare = {k: v for k, v in BASE.items() if k != "function"}
    record = normalize({**bare, "function_name": "render"})
    assert record["function"] == "render" and record["extra"] is None
    assert wire.decode(wire.encode(record)) == record
    for value, reason in (("x" * 1025, "function: longer than 1024 characters"),
                          ("  ", "function: must be a non-empty string")):
        with pytest.raises(ValidationError, match=reason):
            normalize({**bare, "function_name": value})


def test_lone_surrogates_become_replacement_characters() -> None:
    """A JSON "\\ud800" escape (no UTF-8 text can hold it) becomes U+FFFD wherever it is, extra and keys too."""
    raw = loads('{"timestamp": "2026-11-21T04:00:00Z", "level": "INFO", "module": "m\\ud800", "function": "f", '
                '"topic": "t", "message": "a\\udc00b", "file": "x\\ud800.js", "extra": {"k": "v\\ud800"}, '
                '"screen\\ud800": 1}')
    record = normalize(raw)
    assert (record["message"], record["module"], record["file"]) == ("a\ufffdb", "m\ufffd", "x\ufffd.js")
    assert json.loads(record["extra"]) == {"k": "v\ufffd", "screen\ufffd": 1}
    assert wire.decode(wire.encode(record)) == record


def test_json_payload_with_leading_blank_is_json() -> None:
    """Payloads starting with `{` or a blank are JSON; others are protobuf."""
    assert wire.decode(b' ' + json.dumps(BASE).encode())["message"] == "hello"


@pytest.mark.parametrize("payload", [b"\xff\xff\xff", b"{not json", b"[1,2]", b""])
def test_malformed_payloads_are_validation_errors(payload: bytes) -> None:
    """Garbage is a ValidationError with a reason, never another exception."""
    with pytest.raises(ValidationError):
        wire.decode(payload)


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=examples(200), deadline=None)
@given(
    message=st.text(st.characters(exclude_categories=("Cs",)), max_size=2000),
    module=text.filter(lambda s: s.strip() != ""),
    line=st.none() | st.integers(0, 2**31 - 1),
    extra=st.dictionaries(text, st.integers() | text | st.booleans(), max_size=5),
    seq=st.integers(1, 2**63 - 1),
)
def test_protobuf_round_trip(message: str, module: str, line: int | None, extra: dict, seq: int) -> None:
    """record -> LogEntry bytes -> record gives back what went in, for any text."""
    record = normalize({**BASE, "message": message, "module": module, "line": line, "extra": extra,
                        "producer_id": "p", "seq": seq})
    assert wire.decode(wire.encode(record)) == record


def test_generated_protobuf_code_is_current(tmp_path: Path) -> None:
    """The checked-in log_entry_pb2.py is what protoc makes from log_entry.proto today."""
    from aico.schema import codegen

    codegen.generate(tmp_path)
    for name in ("log_entry_pb2.py", "log_entry_pb2.pyi"):
        assert (tmp_path / name).read_text() == (codegen.HERE / name).read_text(), f"{name} is stale: make proto"


def test_schema_fields_match_the_proto() -> None:
    """Every stored column has a LogEntry field of the same name, and back."""
    proto_fields = {f.name for f in wire.LogEntry.DESCRIPTOR.fields}
    assert set(COLUMNS) == proto_fields


def test_lone_surrogates_in_a_bus_payload_can_be_stored() -> None:
    """A JSON "\\ud800" escape decodes to a string no UTF-8 can hold: it becomes U+FFFD, so the
    record can still be sent and stored (it used to make the collector's batch encoding raise)."""
    payload = b'{"timestamp": "2026-11-21T04:00:00Z", "level": "INFO", "module": "m", "function": "f", ' \
              b'"topic": "t", "message": "a\\ud800b", "extra": {"k": "\\udfff"}}'
    record = wire.decode(payload)
    assert record["message"] == "a\ufffdb"
    assert json.loads(record["extra"]) == {"k": "\ufffd"}
    assert json.loads(encode_rows([wire.decode_row(payload)]))[0][COLUMNS.index("message")] == "a\ufffdb"


def test_decode_row_is_decode_in_column_order() -> None:
    """The collector's row form holds the same values as the record, in COLUMNS order."""
    record = normalize({**BASE, "extra": {"a": 1}, "line": 7, "producer_id": "p", "seq": 3})
    payload = wire.encode(record)
    assert wire.decode_row(payload) == tuple(record[c] for c in COLUMNS)
    assert json.loads(encode_rows([wire.decode_row(payload)])) == [[record[c] for c in COLUMNS]]
