"""The CLI imports only what a command needs: reading the store loads no analytics, bridge,
pydantic, PyYAML or Rich (when the output is not a terminal); listing the commands loads none
of their modules. Each command runs in a fresh interpreter, which reports ``sys.modules`` as it exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aico.cli import logs
from aico.cli.lazy import every_command
from aico.cli.main import GROUPS, app
from aico.config import Settings
from aico.schema import normalize
from aico.store import LogStore

from support import stamp

#: Never needed to read or count records, follow them, or show the backend's status.
HEAVY = ("duckdb", "pyarrow", "fastapi", "uvicorn", "starlette", "pydantic", "yaml", "rich", "zmq", "cryptography",
         "aico.analytics", "aico.bridge", "aico.dashboard", "aico.retention", "aico.privacy", "aico.collector",
         "aico.bus", "aico.logging")

REPORT = """import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["aico", *json.loads(sys.argv[1])]
from aico.cli.launch import main
main()
"""


def modules_of(env: dict[str, str], *args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", REPORT, json.dumps(args)], env=env, capture_output=True,
                          text=True, timeout=120)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def heavy_in(loaded: set[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in heavy))


@pytest.fixture
def store_env(env: dict[str, str], settings: Settings) -> dict[str, str]:
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([normalize({"timestamp": stamp(10 - i), "level": "INFO", "subsystem": "backend",
                                       "module": "api", "function": "handle", "topic": "api/request",
                                       "message": f"request {i}", "trace_id": "t-1"})
                            for i in range(5)])
    return env


@pytest.mark.parametrize("args", [("logs", "ls", "-n", "3"), ("logs", "ls", "request", "-o", "jsonl"),
                                  ("logs", "count"), ("logs", "trace", "t-1"), ("logs", "tail", "-n", "2"),
                                  ("gateway", "status")])
def test_reading_commands_import_nothing_heavy(store_env: dict[str, str], args: tuple[str, ...]) -> None:
    """ls, count, trace, tail and gateway status load none of the heavy libraries or other stops."""
    assert heavy_in(modules_of(store_env, *args)) == []


@pytest.mark.parametrize("args", [("--help",), ("logs", "--help"), ("logs", "ls", "--help")])
def test_help_imports_no_command_module(env: dict[str, str], args: tuple[str, ...]) -> None:
    """Help, piped, loads no command module but the one asked about, and no Rich or pydantic (nor the
    store, unless the command's own options need its filters)."""
    loaded = modules_of(env, *args)
    assert heavy_in(loaded, HEAVY if "ls" in args else (*HEAVY, "libsql", "aico.store")) == []
    others = {entry.module for name, entry in GROUPS.items() if name != "logs"}
    assert sorted(loaded & others) == []


def test_completion_lists_commands_without_importing_them(env: dict[str, str]) -> None:
    """Shell completion of ``aico l`` answers ``logs`` without importing any command's module."""
    done = subprocess.run([sys.executable, "-c", REPORT, json.dumps([])], capture_output=True, text=True, timeout=120,
                          env={**env, "_AICO_COMPLETE": "complete_bash", "COMP_WORDS": "aico l", "COMP_CWORD": "1"})
    assert "logs" in done.stdout.split()
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert sorted(loaded & {entry.module for entry in GROUPS.values()}) == []


def test_each_listed_help_line_is_the_commands_own() -> None:
    """The help lines the lazy tables show are those of the commands they load."""
    for table, group in ((GROUPS, app), (logs.COMMANDS, logs.app)):
        loaded = every_command(group)
        assert set(loaded) == set(table)
        for name, entry in table.items():
            own = " ".join((loaded[name].help or "").split())
            assert own.startswith(entry.help), (name, own, entry.help)


def test_every_cli_module_is_reachable_from_a_table() -> None:
    """Each command module of aico/cli is named in a lazy table (a new one is not forgotten)."""
    cli = Path(__file__).resolve().parents[2] / "src" / "aico" / "cli"
    named = {e.module for e in (*GROUPS.values(), *logs.COMMANDS.values())}
    helpers = {"aico.cli.common", "aico.cli.launch", "aico.cli.lazy", "aico.cli.main", "aico.cli.output",
               "aico.cli.logs.options", "aico.cli.logs", "aico.cli"}
    found = {("aico.cli." + ".".join(p.relative_to(cli).with_suffix("").parts)).removesuffix(".__init__")
             for p in cli.rglob("*.py")}
    assert sorted(found - named - helpers) == []
