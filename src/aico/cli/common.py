"""What every command shares: settings, the console, opening the store for reading.

Rich and the store are imported when a command first uses them, not when its module is: a
command that only counts never loads Rich, and ``--help`` loads neither.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

from aico.config import Settings, load_settings

if TYPE_CHECKING:
    from aico.store.repository import LogStore


def settings() -> Settings:
    return load_settings()


class PlainConsole:
    """A console for a stream that is not a terminal: ``Line`` objects are written as plain text
    (no Rich import), anything else (a table, markup) goes to a Rich console made on first use."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self._rich: Any = None

    def print(self, *objects: Any, **options: Any) -> None:
        from aico.cli.output import Line

        if objects and not options and all(isinstance(o, Line) for o in objects):
            self.file.write(" ".join(o.plain for o in objects) + "\n")
            return
        if self._rich is None:
            self._rich = _rich_console(self.file, terminal=False)
        self._rich.print(*objects, **options)


def _rich_console(stream: TextIO, *, terminal: bool) -> Any:
    from rich.console import Console

    no_color = bool(os.environ.get("NO_COLOR")) or not terminal
    return Console(file=stream, no_color=no_color, highlight=False, soft_wrap=True,
                   force_terminal=None if terminal else False)


def console(stderr: bool = False) -> Any:
    """Rich on a terminal (coloured unless NO_COLOR is set); a :class:`PlainConsole` elsewhere."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return _rich_console(stream, terminal=True)
    return PlainConsole(stream)


def rich_console(stderr: bool = False) -> Any:
    """Always a Rich console (for what only Rich draws: a progress bar), coloured as :func:`console`'s."""
    stream = sys.stderr if stderr else sys.stdout
    return _rich_console(stream, terminal=stream.isatty())


def open_reader(s: Settings | None = None) -> LogStore:
    from aico.store.repository import LogStore

    return LogStore.open(s or settings(), writer=False)
