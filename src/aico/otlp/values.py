"""OTLP ``AnyValue`` and attribute lists to plain JSON values, and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

MAX_DEPTH = 32  # deeper values are rendered as text: nesting past this is an attack, not a log
_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def plain(value: AnyValue, depth: int = 0) -> Any:
    """The JSON value of ``value``: bytes as hex, arrays as lists, key-value lists as objects."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind is None:
        return None
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if depth >= MAX_DEPTH:
        return str(value)[:1024]
    if kind == "array_value":
        return [plain(v, depth + 1) for v in value.array_value.values]
    return attributes(value.kvlist_value.values, depth + 1)


def attributes(pairs: Iterable[KeyValue], depth: int = 0) -> dict[str, Any]:
    """A ``KeyValue`` list as an object (a repeated key: the last one wins, as in the SDKs)."""
    return {kv.key: plain(kv.value, depth) for kv in pairs}


def fill(target: AnyValue, value: Any) -> None:
    """Set ``target`` to the OTLP form of a JSON value (anything else as its text)."""
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, Mapping):
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        for key, item in value.items():
            fill_pair(kvlist.values.add(), str(key), item)
    elif isinstance(value, list | tuple):
        array = target.array_value
        array.SetInParent()
        for item in value:
            fill(array.values.add(), item)
    else:
        target.string_value = str(value)


def fill_pair(target: KeyValue, key: str, value: Any) -> None:
    target.key = key
    fill(target.value, value)
