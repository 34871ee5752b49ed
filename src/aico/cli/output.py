"""Rendering records: pretty (coloured by level on a terminal), json and jsonl."""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.text import Text

LEVEL_STYLES = {
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}


class Output(StrEnum):
    pretty = "pretty"
    json = "json"
    jsonl = "jsonl"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """A record as the schema names it, with JSON fields parsed."""
    out = {k: v for k, v in row.items() if v is not None}
    for name in ("extra", "error_details"):
        if isinstance(out.get(name), str):
            try:
                out[name] = json.loads(out[name])
            except ValueError:
                pass
    return out


def pretty_line(row: dict[str, Any]) -> Text:
    level = row["level"]
    text = Text()
    text.append(row["timestamp"], style="cyan")
    text.append(" ")
    text.append(f"{level:<8}", style=LEVEL_STYLES.get(level, ""))
    text.append(" ")
    text.append(f"{row['subsystem']}/{row['module']}", style="magenta")
    if row.get("function"):
        text.append(f":{row['function']}", style="magenta")
    text.append(" ")
    text.append(row.get("message") or "")
    if row.get("trace_id"):
        text.append(f"  trace={row['trace_id']}", style="dim")
    if row.get("error_details"):
        try:
            err = json.loads(row["error_details"])
            text.append(f"\n    {err.get('type', 'Error')}: {err.get('message', '')}", style="red")
        except ValueError:
            pass
    return text


def render(rows: Iterable[dict[str, Any]], fmt: Output, console: Console) -> int:
    n = 0
    if fmt is Output.json:
        data = [_clean(r) for r in rows]
        console.file.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return len(data)
    for row in rows:
        n += 1
        if fmt is Output.jsonl:
            console.file.write(json.dumps(_clean(row), ensure_ascii=False) + "\n")
        else:
            console.print(pretty_line(row))
    return n
