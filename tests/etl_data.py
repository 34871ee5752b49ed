"""A log store with known content for the analytics tests, and the expectations computed from it.

The expectations are computed here in plain Python from the source records, independently of
the SQL the ETL runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from aico.config import Settings
from aico.schema.record import normalize
from aico.schema.timestamps import format_utc
from aico.store.repository import LogStore

LEVEL_CYCLE = ["INFO", "INFO", "DEBUG", "WARNING", "INFO", "ERROR", "INFO", "CRITICAL", "INFO", "ERROR"]
MODULES = ["aico.memory.consolidation", "aico.chat.handler", "aico.llm.client"]
PRIVATE = {
    "email": "zelda.private@example.com",
    "ip": "203.0.113.77",
    "card": "4111 1111 1111 1111",
    "secret": "hunter2-very-secret",
    "user": "user-alice",
}
# Marker texts that must never reach the analytics file in plain text (the store itself is encrypted).
PLAINTEXT_MARKERS = ["aico.memory.consolidation", "consolidated memories for conversation", *PRIVATE.values()]


def base_time() -> datetime:
    """Midnight UTC two days ago: every record lands on one of the last three days, in the past."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)


def _stack(module: str, line: int, address: int) -> str:
    return (f'Traceback (most recent call last):\n  File "/app/{module.replace(".", "/")}.py", line {line}, in run\n'
            f"    self.step(<object at 0x{address:x}>)\nValueError: bad value {line}")


def raw_records(n: int = 360, start_seq: int = 0, base: datetime | None = None) -> list[dict[str, Any]]:
    base = base or base_time()
    out = []
    for i in range(start_seq, start_seq + n):
        level = LEVEL_CYCLE[i % len(LEVEL_CYCLE)]
        module = MODULES[i % len(MODULES)]
        raw: dict[str, Any] = {
            "timestamp": format_utc(base + timedelta(minutes=7 * i % (2 * 24 * 60), seconds=i % 60)),
            "level": level, "subsystem": "backend" if i % 4 else "frontend", "module": module,
            "function": "run", "topic": f"logs.{module}", "producer_id": "tests", "seq": i,
            "message": f"consolidated memories for conversation {i} in {i % 90 + 0.5}ms",
            "extra": {"duration_ms": i * 1.5, "status": 200 + i % 3, "model": "m1", "ok": i % 2 == 0},
        }
        if i % 11 == 0:
            raw["message"] = f"user {PRIVATE['email']} from {PRIVATE['ip']} paid with {PRIVATE['card']}"
        if i % 29 == 0:  # rarer than the 5% that promotes a key to a column
            raw["extra"]["password"] = PRIVATE["secret"]
            raw["extra"]["rare"] = "x"
        if i % 17 == 0:
            raw["extra"]["mixed"] = i if i % 2 else "text"
        if i % 5 == 0:
            raw["user_id"] = PRIVATE["user"] if i % 10 == 0 else f"user-{i % 7}"
        if level in ("ERROR", "CRITICAL"):
            kind = "ValueError" if i % 3 else "KeyError"
            raw["error_details"] = {"type": kind, "message": f"bad value {i}",
                                    "stack": _stack(module, 10 + i, 0x7F00 + i)}
        out.append(raw)
    return out


def old_records(n: int = 5) -> list[dict[str, Any]]:
    """Records from 200 days ago: outside the 90-day retention window."""
    return raw_records(n, start_seq=10_000, base=datetime.now(UTC) - timedelta(days=200))


def store_records(settings: Settings, raws: list[dict[str, Any]]) -> None:
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize(r) for r in raws])


def kept(raws: list[dict[str, Any]], since: datetime | None = None) -> list[dict[str, Any]]:
    """The records the ETL should load by default: INFO and up, within 90 days."""
    floor = since or datetime.now(UTC) - timedelta(days=90)
    return [normalize(r) for r in raws if r["level"] != "DEBUG" and datetime.fromisoformat(
        normalize(r)["timestamp"].replace("Z", "+00:00")) >= floor]


def pseudonym(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def stack_hash(error_type: str, message: str, stack: str) -> str:
    """The documented stack hash, re-implemented: message out, addresses and numbers blanked."""
    text = stack.replace(message, "") if message else stack
    shape = re.sub(r"\b\d+\b", "N", re.sub(r"0x[0-9a-fA-F]+", "0x", text))
    return hashlib.sha256(f"{error_type}\n{shape}".encode()).hexdigest()[:16]


def expected_rollups(records: list[dict[str, Any]]) -> dict[str, Any]:
    by_module: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    by_hour: Counter[tuple[str, str]] = Counter()
    by_type: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in records:
        day, hour = r["timestamp"][:10], r["timestamp"][:13]
        c = by_module[(day, r["subsystem"], r["module"])]
        c["records"] += 1
        c[r["level"]] += 1
        by_hour[(hour, r["level"])] += 1
        if r["error_details"]:
            err = json.loads(r["error_details"])
            key = (day, err["type"], stack_hash(err["type"], err["message"], err["stack"]))
            by_type[key].append(r["timestamp"])
    return {
        "errors_by_module_day": {
            k: (c["records"], c["WARNING"], c["ERROR"], c["CRITICAL"]) for k, c in by_module.items()},
        "records_by_level_hour": dict(by_hour),
        "error_types_by_day": {k: (len(v), min(v), max(v)) for k, v in by_type.items()},
    }
