"""The core install: `pip install aico-logging` (no extras) in a new venv ships an app's records to a backend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aico.config import load_settings
from aico.store import LogStore

from support import Backend, wait_until

ROOT = Path(__file__).resolve().parents[2]
CORE = {"cryptography", "orjson", "platformdirs", "protobuf", "pyyaml", "pyzmq"}
RECORDS = 500
#: What pip says when it cannot reach a package it needs (no network and nothing cached): a skip, not a failure.
OFFLINE = ("No matching distribution", "Could not find a version", "Failed to establish a new connection",
           "Temporary failure in name resolution", "Network is unreachable")
APP = """
import json, logging, sys
import aico.logging
aico.logging.install(subsystem="coreapp")
log = logging.getLogger("coreapp.main")
for i in range({records}):
    log.info("from the core install %d", i, extra={{"topic": "core/install", "i": i}})
flushed = aico.logging.flush(60)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("libsql", "duckdb", "pyarrow", "fastapi", "typer"))
print(json.dumps({{"flushed": flushed, "stats": aico.logging.stats(), "heavy": heavy}}))
"""


def core_venv(where: Path) -> Path:
    """A new venv holding aico-logging installed without extras, from a copy of this tree; its python."""
    source = where / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # Without its own pip (ensurepip is most of a venv's making): this pip installs into it (--python).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where / "venv")], check=True, timeout=120)
    python = where / "venv" / "bin" / "python"
    done = subprocess.run(pip(python, "install", "--quiet", "-c", str(ROOT / "constraints.txt"), str(source)),
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        if any(sign in done.stderr for sign in OFFLINE):
            pytest.skip(f"pip cannot install the core dependencies here (offline, nothing cached): "
                        f"{done.stderr.strip().splitlines()[-1]}")
        raise AssertionError(f"pip install of the core package failed:\n{done.stderr}")
    return python


def pip(python: Path, *args: str) -> list[str]:
    """This environment's pip, acting on the venv of ``python``."""
    return [sys.executable, "-m", "pip", "--python", str(python), *args]


def stored(env: dict[str, str]) -> int:
    with LogStore.open(load_settings(env=env)) as store:
        return store.count()


@pytest.mark.e2e
def test_core_install_logs_to_a_backend(tmp_path: Path, env: dict[str, str]) -> None:
    """A core-only venv lacks the backend's libraries, yet its install() ships every record to a full backend."""
    python = core_venv(tmp_path)
    show = subprocess.run(pip(python, "show", "aico-logging"), capture_output=True, text=True, check=True).stdout
    requires = next(line for line in show.splitlines() if line.startswith("Requires:"))
    assert {name.strip() for name in requires.partition(":")[2].split(",")} == CORE
    for heavy in ("libsql", "duckdb", "fastapi", "typer"):
        probe = subprocess.run([str(python), "-c", f"import {heavy}"], capture_output=True, text=True)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, heavy
    aico = subprocess.run([str(python.parent / "aico"), "logs", "tail"], capture_output=True, text=True, env=env)
    assert (aico.returncode, aico.stdout) == (1, "")
    assert aico.stderr == "aico: error: aico logs needs the backend extra: pip install 'aico-logging[backend]'\n"
    with Backend(env, "--plugins", "message_bus,log_consumer"):
        done = subprocess.run([str(python), "-c", APP.format(records=RECORDS)], env=env, capture_output=True,
                              text=True, timeout=180, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout.strip().splitlines()[-1])
        assert out["flushed"] is True and out["heavy"] == [], out
        wait_until(lambda: stored(env) == RECORDS, timeout=60, interval=0.2, message=f"{RECORDS} stored")
