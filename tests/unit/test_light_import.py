"""The logger library is light: importing it loads none of the backend's, the bridge's or analytics' libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aico import extras
from aico.backend import registry
from aico.cli.launch import command_name
from aico.errors import BackendError
from aico.extras import extra_for, needs

#: What an application that only logs must never load: the other stops of the road and their libraries.
FORBIDDEN = ("aico.store", "aico.analytics", "aico.bridge", "aico.dashboard", "aico.collector", "aico.retention",
             "aico.privacy", "aico.cli", "libsql", "duckdb", "pyarrow", "fastapi", "starlette", "uvicorn", "typer",
             "rich", "keyring", "zstandard", "re2")


def loaded_after(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("statement", ["import aico.logging", "import aico.core.logging_context",
                                       "import aico.logging.testing"])
def test_logger_imports_nothing_heavy(statement: str) -> None:
    """A fresh interpreter holds none of the heavy modules after importing the logger library."""
    heavy = [m for m in loaded_after(statement) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert heavy == []


def test_the_recursion_guard_is_neutral() -> None:
    """Every layer marks its threads with the recursion guard, so importing it loads no layer of aico."""
    ours = [m for m in loaded_after("import aico.recursion_guard") if m.startswith("aico.")]
    assert ours == ["aico.recursion_guard"]


def test_missing_extra_is_named() -> None:
    """A missing library of an extra maps to that extra; anything else is not ours to explain."""
    assert extra_for(ModuleNotFoundError("x", name="libsql")) == "backend"
    assert extra_for(ModuleNotFoundError("x", name="uvicorn.config")) == "bridge"
    assert extra_for(ModuleNotFoundError("x", name="opentelemetry.proto.logs")) == "backend"
    assert extra_for(ModuleNotFoundError("x", name="opentelemetry.sdk")) is None
    assert extra_for(ModuleNotFoundError("x", name="nosuchthing")) is None
    assert command_name(["aico", "--no-color", "logs", "query"]) == "aico logs"
    assert needs("aico logs", "backend") == "aico logs needs the backend extra: pip install 'aico-logging[backend]'"


def test_plugin_of_a_missing_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose extra is not installed fails to start with the extra named, not an ImportError."""
    def absent(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name="fastapi")

    monkeypatch.setattr(registry.importlib, "import_module", absent)
    with pytest.raises(BackendError, match=r"plugin log_bridge needs the bridge extra: pip install"):
        registry.factory("log_bridge")


def test_a_plugin_run_in_a_child_checks_its_extra_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge and analytics plugins say which extra is missing before they start a child that would fail."""
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name in ("uvicorn", "duckdb") else object())
    with pytest.raises(BackendError, match=r"^plugin log_bridge needs the bridge extra"):
        extras.require("plugin log_bridge", "fastapi", "uvicorn")
    with pytest.raises(BackendError, match=r"^plugin log_analytics needs the analytics extra"):
        extras.require("plugin log_analytics", "duckdb", "pyarrow")
    extras.require("plugin log_bridge", "fastapi")
