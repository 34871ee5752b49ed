"""End-to-end fixtures: real processes, real sockets, a real encrypted store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

APP = str(Path(__file__).with_name("producer_app.py"))


def run_app(env: dict[str, str], *args: str, timeout: float = 180) -> list[dict[str, Any]]:
    """Run the e2e producer application to completion; its JSON lines."""
    done = subprocess.run([sys.executable, APP, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def start_app(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, APP, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)


@pytest.fixture(autouse=True)
def _e2e_marker(request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.e2e)
