"""The spool's state file, ``state.json``: the producer id and the watermark, no record content.

The file may be damaged or edited by hand, so what it says is checked: a producer id that is
not one, or a watermark out of range, reads as absent (a new id, a watermark of 1: at worst
records the store already has are sent again, and it drops them).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from aico.config.private import private_open

MAX_SEQ = 2**63 - 1
_PRODUCER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")


def read_state(directory: Path) -> dict[str, object]:
    """What ``state.json`` holds; empty if it is missing or not a JSON object."""
    try:
        data = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(directory: Path, producer_id: str, watermark: int) -> None:
    """Replace ``state.json`` whole (a temporary file, then a rename); an ``OSError`` is the caller's."""
    tmp = directory / "state.json.tmp"
    with open(tmp, "w", encoding="utf-8", opener=private_open) as fh:
        fh.write(json.dumps({"producer_id": producer_id, "watermark": watermark}))
    os.replace(tmp, directory / "state.json")


def valid_id(value: object) -> str | None:
    """A producer id from the state file, or None if it is not one (a damaged or edited file)."""
    return value if isinstance(value, str) and _PRODUCER_ID.match(value) else None


def valid_seq(value: object) -> int | None:
    """A seq (1 to 2^63-1) from the state file or a segment's name, or None if it is not one."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SEQ:
        return value
    return None
