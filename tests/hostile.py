"""Hypothesis strategies for the fuzz campaign: hostile records, payloads, option values, config and key files.

Examples per test: each test's small default keeps CI short; ``AICO_FUZZ_EXAMPLES=N`` runs N per test instead
(a long hunt: ``AICO_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests -k fuzz``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from aico.schema.log_entry_pb2 import LogEntry

from support import examples as scaled
from support import stamp

LONG = int(os.environ.get("AICO_FUZZ_EXAMPLES") or 0)


def fuzz(examples: int = 25, **more: Any) -> settings:
    """Hypothesis settings of the campaign: bounded examples, no deadline (the machine is shared)."""
    return settings(max_examples=LONG or scaled(examples), deadline=None, derandomize=False, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large], **more)


# Text that breaks naive code: NUL and control bytes, lone surrogates, right-to-left marks, huge numbers.
NASTY = ["", "\x00", "a\x00b", "\ud800", "\udfff", "\u202e", "\ufeff", "\x1b[31m", "%s%n", "' OR 1=1 --",
         "\"", "\\", "NaN", "Infinity", "-0", "1e309", "9" * 400, "0x", "../../etc/passwd", "\r\n", "\u2028",
         "*", "(", ")", "NOT", "AND", "OR", "\"unterminated", "NEAR(", "^", "{", "}", "[", "]", "\t"]

nasty_text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                       st.text(st.characters(codec="utf-8"), max_size=20),
                       st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=20))

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), nasty_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(nasty_text, inner, max_size=4)),
                           max_leaves=12)
deep_values = st.integers(60, 3000).map(lambda n: json.loads(deep(n)) if n < 500 else {"deep": "[" * n})

FIELDS = ["timestamp", "level", "subsystem", "module", "function", "message", "extra", "topic", "file", "line",
          "trace_id", "session_id", "user_id", "error_details", "severity", "origin", "environment",
          "producer_id", "seq"]


def good_record(i: int, **more: Any) -> dict[str, Any]:
    """A valid record, marked by ``extra.i`` (so a test can find exactly which good records were stored)."""
    return {"timestamp": stamp(30), "level": "INFO", "module": "fuzz.mod", "function": "f", "topic": "fuzz/t",
            "message": f"good {i}", "extra": {"i": i}, **more}


@st.composite
def hostile_records(draw: st.DrawFn) -> Any:
    """A record-like JSON value: a good record with fields broken, dropped or added, or any JSON at all."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(json_values)
    base = {**good_record(-1), "message": "hostile", "extra": {"hostile": True}}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5)):
        base[name] = draw(json_values)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2)):
        base.pop(name, None)
    if kind == 3:
        base.update(draw(st.dictionaries(nasty_text, json_values, max_size=3)))
    if draw(st.integers(0, 7)) == 0:
        base[draw(st.sampled_from(["extra", "error_details", "message", "level"]))] = draw(deep_values)
    return base


def deep(depth: int) -> str:
    """JSON text nested ``depth`` levels: past any parser's recursion limit."""
    return "[" * depth + "]" * depth


def to_json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return b"{}"


@st.composite
def protobuf_payloads(draw: st.DrawFn) -> bytes:
    """Protobuf: a LogEntry with hostile field values, cut short, with garbage appended, or raw bytes."""
    entry = LogEntry()
    for name in ("timestamp", "subsystem", "module", "function", "message", "extra", "topic", "file",
                 "trace_id", "error_details", "origin", "producer_id"):
        if draw(st.booleans()):
            value = draw(nasty_text)
            try:
                setattr(entry, name, value)
            except ValueError:  # lone surrogates are not valid UTF-8: the field stays empty
                pass
    if draw(st.booleans()):
        entry.level = draw(st.sampled_from([0, 10, 20, 30, 40, 50, 7, 2**31 - 1]))
    if draw(st.booleans()):
        entry.line = draw(st.integers(-(2**31), 2**31 - 1))
    if draw(st.booleans()):
        entry.seq = draw(st.integers(0, 2**64 - 1))
    data = entry.SerializeToString()
    how = draw(st.integers(0, 3))
    if how == 1 and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == 2:
        data += draw(st.binary(max_size=32))
    elif how == 3:
        data = draw(st.binary(min_size=1, max_size=64))
    return data


# JSON nested past the parser's recursion limit (#18 finding 4)
DEEP = [deep(5000), '{"extra": ' + deep(5000) + "}", '{"extra": "' + deep(5000) + '"}']
bus_payloads = st.one_of(protobuf_payloads(), hostile_records().map(to_json_bytes),
                         st.sampled_from([b"{", b"\xff\xfe", b"[]", b"null", b'{"extra": "{"}',
                                          *(text.encode() for text in DEEP)]))

# Values for the CLI's options: a little of what each option means, and a lot of what it does not.
option_values = st.one_of(nasty_text, st.sampled_from(
    # invalid times on purpose (no Feb 30, no hour 25): parsed, never compared with the clock
    ["3x", "-1d", "99999999999d", "1e9w", "2026-02-30", "2026-11-21T25:00:00Z", "today..", "info..", "..error",
     "loud", "debug,,error", "error..debug", "[", "a**", "(?P<", "\\", "0", "-5", "1e3", "nan", "9" * 30]))


@st.composite
def config_texts(draw: st.DrawFn) -> str:
    """A core.yaml: a valid override with hostile values, or broken YAML."""
    sections = {"core": {"logging": {"producer": {"queue_size": draw(json_values), "window": draw(scalars)},
                                     "retention": {"days": draw(scalars), "run_at": draw(scalars)}},
                         "bridge": {"port": draw(scalars), "cors_origins": draw(json_values)},
                         draw(nasty_text): draw(json_values)}}
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return json.dumps(sections, allow_nan=True)  # JSON is YAML
    if choice == 1:
        return draw(st.sampled_from(["core: [", "core:\n\tbad: tab", "- a\n- b", "core: !!python/object:os.system x",
                                     "&a [*a]", "core: {logging: {level: *nope}}", "\x00", "core: " + deep(3000)]))
    return draw(st.text(max_size=80))


env_values = st.one_of(nasty_text, st.sampled_from(["", "true", "[", "{}", "[1,2]", "null", "-1", "1e400",
                                                    "0.5", "\"\"", "{\"a\": 1}"]))
env_names = st.sampled_from(["AICO_CORE__MESSAGE_BUS__PUB_PORT", "AICO_CORE__LOGGING__LEVEL",
                             "AICO_CORE__LOGGING__PRODUCER__QUEUE_SIZE", "AICO_CORE__BRIDGE__CORS_ORIGINS",
                             "AICO_CORE__LOGGING__RETENTION__RUN_AT", "AICO_CORE__NOPE", "AICO_CORE__",
                             "AICO_CORE____X", "AICO_CORE__LOGGING", "AICO_CORE__ANALYTICS__MEMORY_LIMIT"])

key_bytes = st.one_of(st.binary(max_size=80), st.sampled_from([b"", b"\n", b"\xff\xfe\x00", b"a" * 10_000,
                                                                 b"{}", b"{\"server_public\": 1}", b"\x00" * 64]))
