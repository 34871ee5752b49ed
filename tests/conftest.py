"""Shared fixtures: every test gets its own AICO_HOME and its own free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aico.config import Settings, load_settings

from support import home_env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Environment for child processes: isolated home, free bus ports, no OS keyring."""
    return home_env(tmp_path / "home")


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings of the isolated home, with this process's environment set to match."""
    for key in [k for k in os.environ if k.startswith("AICO_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("AICO_"):
            monkeypatch.setenv(key, value)
    yield load_settings(env=env)
