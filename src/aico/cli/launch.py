"""The ``aico`` console script: the CLI, or one line saying which extra a core-only install lacks.

``pip install aico-logging`` installs the logger library only; the commands need the
``backend`` extra (Typer, Rich, libSQL), some of them more (``bridge``, ``analytics``).
"""

from __future__ import annotations

import os
import sys

from aico.extras import extra_for, needs

#: The exit code of a command whose extra is not installed (as ``BackendError``'s).
MISSING_EXTRA_EXIT = 1


def command_name(argv: list[str]) -> str:
    """``aico logs`` for ``aico logs query ...``: the command a missing-extra message names."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return f"aico {words[0]}" if words else "aico"


def missing_extra(exc: ModuleNotFoundError, argv: list[str]) -> None:
    """Exit with one line when ``exc`` is a library of an extra; re-raise anything else."""
    extra = extra_for(exc)
    if extra is None:
        raise exc
    print(f"aico: error: {needs(command_name(argv), extra)}", file=sys.stderr)
    sys.exit(MISSING_EXTRA_EXIT)


def plain_help_off_a_terminal() -> None:
    """Help as plain text when stdout is not a terminal: Typer's Rich panels import ~150 modules
    (~60 ms) to draw boxes nobody sees in a pipe. Typer reads ``TYPER_USE_RICH`` once, on import;
    it is not left in the environment for the processes a command starts."""
    if "TYPER_USE_RICH" in os.environ or sys.stdout.isatty():
        return
    os.environ["TYPER_USE_RICH"] = "0"
    try:
        import typer.core  # noqa: F401 - read the variable now
    finally:
        del os.environ["TYPER_USE_RICH"]


def main() -> None:
    try:
        plain_help_off_a_terminal()
        from aico.cli.main import main as run
    except ModuleNotFoundError as exc:
        missing_extra(exc, sys.argv)
        return
    run()
