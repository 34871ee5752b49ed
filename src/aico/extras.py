"""Which extra brings which library: a core-only install says what to add, never a traceback.

    pip install aico-logging                 the logger library (pyzmq, protobuf, orjson, pyyaml,
                                             platformdirs): aico.logging.install() ships to a backend
    pip install 'aico-logging[backend]'      + the backend, the collector and writer, the encrypted store,
                                             retention, privacy, OTLP and the ``aico`` command
    pip install 'aico-logging[bridge]'       + the frontend bridge and the dashboard (FastAPI, uvicorn)
    pip install 'aico-logging[analytics]'    + the analytics copy and Parquet export (DuckDB, pyarrow)
    pip install 'aico-logging[all]'          all of the above (what ``make run`` installs)
"""

from __future__ import annotations

from importlib.util import find_spec

from aico.errors import BackendError

#: The import name (a top-level package, or a dotted prefix) -> the extra that installs it.
EXTRA_OF: dict[str, str] = {
    "libsql": "backend", "typer": "backend", "click": "backend", "rich": "backend", "keyring": "backend",
    "zstandard": "backend", "stdnum": "backend", "phonenumbers": "backend",
    "re2": "backend", "opentelemetry.proto": "backend",
    "fastapi": "bridge", "starlette": "bridge", "uvicorn": "bridge",
    "duckdb": "analytics", "pyarrow": "analytics",
}


def extra_for(exc: ModuleNotFoundError) -> str | None:
    """The extra whose absence raised ``exc``, or None when the missing module is not one of ours."""
    name = exc.name or ""
    while name:
        if name in EXTRA_OF:
            return EXTRA_OF[name]
        name = name.rpartition(".")[0]
    return None


def needs(what: str, extra: str) -> str:
    """The one line saying what to install: ``aico logs needs the backend extra: pip install ...``."""
    return f"{what} needs the {extra} extra: pip install 'aico-logging[{extra}]'"


def require(what: str, *modules: str) -> None:
    """Raise ``BackendError`` naming the extra when one of ``modules`` is not installed (nothing is imported).

    For what runs them in a child process (the bridge, analytics), where the import error would
    only be a traceback on the child's stderr.
    """
    for module in modules:
        if find_spec(module) is None:
            raise BackendError(needs(what, EXTRA_OF[module]))
