"""Fuzz campaign, the bus's decoder: any payload, protobuf or JSON, is a record or a ValidationError saying why."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from aico.errors import ValidationError
from aico.schema import wire
from hostile import DEEP, bus_payloads, fuzz, good_record


@fuzz(examples=200)
@given(bus_payloads)
def test_any_bus_payload_decodes_or_is_rejected_with_a_reason(payload: bytes) -> None:
    """decode_row never raises anything but ValidationError, and a rejection always names a reason."""
    try:
        row = wire.decode_row(payload)
    except ValidationError as exc:
        assert str(exc)
    else:
        record = dict(zip(wire.COLUMNS, row, strict=True))
        assert record["timestamp"] and record["level"]


@pytest.mark.parametrize("text", DEEP)
def test_json_nested_past_the_parser_limit_is_rejected(text: str) -> None:
    """JSON nested thousands deep is a ValidationError naming the depth, never a RecursionError."""
    with pytest.raises(ValidationError):
        wire.decode_row(good_json_with(text))


def good_json_with(text: str) -> bytes:
    if text.startswith("{"):
        record = json.loads(json.dumps(good_record(0)))
        return (json.dumps(record)[:-1] + ", " + text[1:]).encode()
    return text.encode()
