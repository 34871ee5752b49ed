"""The ``aico`` command: one Typer app, with a group per topic, and errors mapped once."""

from __future__ import annotations

import sys

import typer

from aico.cli import analytics, archive, backend, bridge, bus, config_cmd, dashboard, db, gateway, keys, logs
from aico.cli.launch import missing_extra
from aico.config.private import private_umask
from aico.errors import AicoError

app = typer.Typer(
    name="aico",
    help="Unified, privacy-first logging: run the backend, search and tail the encrypted log store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(backend.app, name="backend")
app.add_typer(gateway.app, name="gateway")
app.add_typer(bus.app, name="bus")
app.add_typer(bridge.app, name="bridge")
app.add_typer(logs.app, name="logs")
logs.app.add_typer(archive.app, name="archive")
app.add_typer(db.app, name="db")
app.add_typer(config_cmd.app, name="config")
app.add_typer(analytics.app, name="analytics")
app.add_typer(dashboard.app, name="dashboard")
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Entry point: a user mistake is one line on stderr and an exit code, never a traceback."""
    for stream in (sys.stdout, sys.stderr):  # an argument that is not UTF-8 (surrogate-escaped) is echoed, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    private_umask()  # what this process and its children make under AICO_HOME is the user's alone
    try:
        code = app(standalone_mode=False)
    except AicoError as exc:
        print(f"aico: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aico: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except ModuleNotFoundError as exc:  # a command of an extra this install lacks: one line naming it
        missing_extra(exc, sys.argv)
    except typer.TyperException as exc:  # usage errors: a bad option value, an unknown command
        message = exc.format_message().strip()
        if "\n" in message:  # a whole help text (a group called without a command)
            print(message, file=sys.stderr)
        elif message:  # (empty when Typer has shown the help itself)
            print(f"aico: error: {message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
