"""The ``aico`` command: one Typer app, with a group per topic, and errors mapped once."""

from __future__ import annotations

import sys

import typer

from aico.cli.launch import missing_extra
from aico.cli.lazy import Entry, lazy_app
from aico.config.private import private_umask
from aico.errors import AicoError

#: Each group's module and the help line ``aico --help`` shows without importing it (a test checks they agree).
GROUPS = {
    "backend": Entry("aico.cli.backend", "Run the backend: message bus broker, log consumer and the other plugins."),
    "gateway": Entry("aico.cli.gateway", "Inspect the running backend."),
    "bus": Entry("aico.cli.bus", "Message bus tools."),
    "bridge": Entry("aico.cli.bridge",
                    "The frontend bridge (HTTP and WebSocket log ingestion for web and app frontends)."),
    "logs": Entry("aico.cli.logs", "Search, tail, count, export and prune the stored logs."),
    "db": Entry("aico.cli.db", "The encrypted log store."),
    "config": Entry("aico.cli.config_cmd", "Configuration."),
    "analytics": Entry("aico.cli.analytics",
                       "ETL the logs into an encrypted DuckDB (scrubbed of private data), query it, report."),
    "dashboard": Entry("aico.cli.dashboard",
                       "The log dashboard in the browser (search, histogram, traces, live tail)."),
    "keys": Entry("aico.cli.keys", "The keys of this AICO_HOME: status, backup (export/import), rotation."),
}

app = lazy_app(
    GROUPS,
    name="aico",
    help="Unified, privacy-first logging: run the backend, search and tail the encrypted log store.",
    no_args_is_help=True,
    add_completion=True,  # aico --install-completion; completing lists commands without importing them
    pretty_exceptions_enable=False,
)


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
