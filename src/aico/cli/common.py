"""What every command shares: settings, the console, opening the store for reading."""

from __future__ import annotations

import os
import sys

from rich.console import Console

from aico.config import Settings, load_settings
from aico.store.repository import LogStore


def settings() -> Settings:
    return load_settings()


def console(stderr: bool = False) -> Console:
    """A Rich console that colours only on a terminal, and never with NO_COLOR set."""
    stream = sys.stderr if stderr else sys.stdout
    no_color = bool(os.environ.get("NO_COLOR")) or not stream.isatty()
    return Console(file=stream, no_color=no_color, highlight=False, soft_wrap=True,
                   force_terminal=None if stream.isatty() else False)


def open_reader(s: Settings | None = None) -> LogStore:
    return LogStore.open(s or settings(), writer=False)
