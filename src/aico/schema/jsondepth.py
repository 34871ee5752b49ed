"""How deep JSON nests, told without a recursive parser, and the limit every parse path applies.

A record's JSON fields (``extra``, ``error_details``) nest at most ``MAX_JSON_DEPTH`` levels;
a record is one level more, a batch body two or three. Deeper text is refused before any parser
recurses into it (orjson stops at 1,024 levels, the standard library raises ``RecursionError``
a little later): a bus payload or a field past the limit is a validation error, and a bridge
batch has only its too-deep records rejected (``cut_deeper_than`` keeps the rest parseable).

The depth is counted on bytes, in C: strings are cut out first (a bracket inside one does not
nest), then the brackets left are summed as +1/-1. Text with fewer openers than the limit
cannot be too deep and is not scanned at all.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

MAX_JSON_DEPTH = 64
DEPTH_MESSAGE = f"JSON nested deeper than {MAX_JSON_DEPTH} levels (the JSON depth limit)"
# What a cut value becomes: a container, so the cut branch is still one level past the limit
# and the record holding it is still found too deep, whatever envelope the body had.
CUT = b"[]"

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_RUN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]+|[\]}]+', re.S)
_KEEP = b"[]{}"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _KEEP)
_SIGNS = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # read as signed bytes: +1 / -1


def _bytes(text: str | bytes | bytearray | memoryview) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)


def _openers(data: bytes) -> int:
    return data.count(b"[") + data.count(b"{")


def json_depth(text: str | bytes | bytearray | memoryview) -> int:
    """The deepest nesting of ``text`` (0 for a scalar); an over-estimate for malformed text."""
    data = _bytes(text)
    if not _openers(data):
        return 0
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS).translate(_SIGNS)
    return max(accumulate(array("b", brackets)), default=0)


def too_deep(text: str | bytes | bytearray | memoryview, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests deeper than ``limit`` (cheap when it has few brackets)."""
    if isinstance(text, str) and text.count("[") + text.count("{") <= limit:
        return False  # counted on the text itself: a bracket is one byte in UTF-8, so no copy is needed to tell
    data = _bytes(text)
    return _openers(data) > limit and json_depth(data) > limit


def cut_deeper_than(data: bytes, limit: int) -> bytes:
    """``data`` with every value nested deeper than ``limit`` replaced by ``CUT``.

    What is left parses without deep recursion; a record that held such a value is still
    deeper than the record limit (``value_depth`` finds it) and is rejected on its own.
    Runs of brackets are taken at once, so a deep run costs one step, not one per bracket.
    """
    out: list[bytes] = []
    depth, last, start = 0, 0, -1
    for token in _RUN.finditer(data):
        run = token.group()
        first = run[:1]
        if first == b"\"":
            continue
        if first in b"[{":
            if start < 0 and depth + len(run) > limit:
                start = token.start() + (limit - depth)
            depth += len(run)
        else:
            after = depth - len(run)
            if start >= 0 and after <= limit:
                out += [data[last:start], CUT]
                last, start = token.start() + (depth - limit), -1
            depth = after
    if start >= 0:  # unbalanced: the rest is cut, and the parser says what is wrong
        out += [data[last:start], CUT]
        last = len(data)
    out.append(data[last:])
    return b"".join(out)


def value_depth(value: Any) -> int:
    """The nesting depth of a parsed value (0 for a scalar), walked without recursion."""
    deepest = 0
    stack: list[tuple[Iterable[Any], int]] = []
    if isinstance(value, dict | list):
        stack.append((value.values() if isinstance(value, dict) else value, 1))
    while stack:
        items, depth = stack.pop()
        deepest = max(deepest, depth)
        for item in items:
            if isinstance(item, dict):
                stack.append((item.values(), depth + 1))
            elif isinstance(item, list):
                stack.append((item, depth + 1))
    return deepest
