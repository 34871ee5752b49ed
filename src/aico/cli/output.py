"""Rendering records: pretty and short (coloured by level on a terminal), json, jsonl, csv, logfmt, raw.

Machine formats (json, jsonl, csv, logfmt) use the schema's field names and its UTC timestamps;
people's formats (pretty, short) show local time unless ``--utc``. Every format streams: rows
are written as they come, so any number of them takes the memory of one.

No text reaches a terminal as it was sent: a NUL byte or any other control character (but tab
and newline) is shown escaped (``\x00``, ``\x1b``...) in pretty, short, raw and csv, and JSON
and logfmt escape it their own way (``\u0000``), so nothing in a message can hide a part of it,
move the cursor or recolour the screen. Nothing is read as rich markup either.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from aico.schema.record import COLUMNS
from aico.schema.timestamps import parse_utc

LEVEL_STYLES = {
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}
FIELDS = ("id", *COLUMNS)
_LOGFMT_BARE = re.compile(r"[^\s\"=\\\x00-\x1f\x7f-\x9f]+\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Line:
    """A line of text with styled spans (Rich style names), like ``rich.text.Text``.

    Rich prints it in colour on a terminal (``__rich__``); elsewhere it is written as plain text
    without importing Rich at all: ~40 ms of every ``aico logs ls`` piped to a file or a program.
    """

    __slots__ = ("parts",)

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Line:
        self.parts.append((text, style))
        return self

    def __add__(self, other: Line) -> Line:
        joined = Line()
        joined.parts = [*self.parts, *other.parts]
        return joined

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)

    def __rich__(self) -> Any:

        text = Line()
        for part, style in self.parts:
            text.append(part, style=style)
        return text


def visible(text: str) -> str:
    """``text`` with control characters (tab and newline aside) written as ``\\xNN``."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def shown(value: Any) -> Any:
    """A value for a person: text made ``visible``, anything else as it is."""
    return visible(value) if isinstance(value, str) else value


def shown_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: shown(v) for k, v in row.items()}


class Output(StrEnum):
    pretty = "pretty"
    short = "short"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    logfmt = "logfmt"
    raw = "raw"


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """A record as the schema names it, empty fields left out, JSON fields parsed."""
    out = {k: v for k, v in row.items() if v is not None}
    for name in ("extra", "error_details"):
        if isinstance(out.get(name), str):
            try:
                out[name] = json.loads(out[name])
            except ValueError:
                pass
    return out


def error_of(row: dict[str, Any]) -> dict[str, Any] | None:
    value = row.get("error_details")
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {"message": value}
        return parsed if isinstance(parsed, dict) else {"message": value}
    return None


def display_time(stamp: str, *, utc: bool, short: bool = False) -> str:
    """A stored timestamp for people: local time (or UTC, marked Z), to the millisecond."""
    moment: datetime = parse_utc(stamp)
    if not utc:
        moment = moment.astimezone()
    if short:
        return moment.strftime("%b %d %H:%M:%S")
    text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    return text + "Z" if utc else text


def pretty_line(row: dict[str, Any], *, utc: bool = False) -> Line:
    level = row["level"]
    text = Line()
    text.append(display_time(row["timestamp"], utc=utc), style="cyan")
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
    err = error_of(row)
    if err:
        text.append(visible(f"\n    {err.get('type', 'Error')}: {err.get('message', '')}"), style="red")
    return text


def short_line(row: dict[str, Any], *, utc: bool = False) -> Line:
    """journalctl's short format: time, source, level letter, message."""
    level = row["level"]
    text = Line()
    text.append(display_time(row["timestamp"], utc=utc, short=True))
    text.append(f" {row['module']}")
    text.append(f"[{level[0]}]", style=LEVEL_STYLES.get(level, ""))
    text.append(f": {row.get('message') or ''}")
    return text


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text and _LOGFMT_BARE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def logfmt_line(row: dict[str, Any]) -> str:
    rec = clean(row)
    keys = ["timestamp", "level", "subsystem", "module", "message"]
    keys += [k for k in rec if k not in keys]
    return " ".join(f"{k}={_logfmt_value(rec[k])}" for k in keys if k in rec)


class Renderer:
    """Writes rows in one format to a console, as they come."""

    def __init__(self, fmt: Output, console: Any, *, utc: bool = False) -> None:
        self.fmt = fmt
        self.console = console
        self.utc = utc
        self.count = 0
        self._csv: Any = None

    def row(self, row: dict[str, Any]) -> None:
        out = self.console.file
        fmt = self.fmt
        if fmt in (Output.pretty, Output.short, Output.raw, Output.csv):
            row = shown_row(row)
        if fmt is Output.pretty:
            self.console.print(pretty_line(row, utc=self.utc))
        elif fmt is Output.short:
            self.console.print(short_line(row, utc=self.utc))
        elif fmt is Output.jsonl:
            out.write(json.dumps(clean(row), ensure_ascii=False) + "\n")
        elif fmt is Output.json:
            out.write(("[\n" if self.count == 0 else ",\n") + json.dumps(clean(row), ensure_ascii=False, indent=2))
        elif fmt is Output.csv:
            if self._csv is None:
                self._csv = csv.writer(out, lineterminator="\n")
                self._csv.writerow(FIELDS)
            self._csv.writerow([row.get(f) for f in FIELDS])
        elif fmt is Output.logfmt:
            out.write(logfmt_line(row) + "\n")
        else:
            out.write((row.get("message") or "") + "\n")
        self.count += 1

    def close(self) -> None:
        if self.fmt is Output.json:
            self.console.file.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.fmt is Output.csv and self._csv is None:
            csv.writer(self.console.file, lineterminator="\n").writerow(FIELDS)
        self.console.file.flush()


def render(rows: Iterable[dict[str, Any]], fmt: Output, console: Any, *, utc: bool = False) -> int:
    renderer = Renderer(fmt, console, utc=utc)
    for row in rows:
        renderer.row(row)
    renderer.close()
    return renderer.count
