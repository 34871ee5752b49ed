"""Shared fixtures: every test gets its own AICO_HOME and its own free ports; the hypothesis profiles.

Profiles: ``full`` (the default: what ``make test`` runs) and ``check`` (``make check``: a tenth of the
examples, no deadline), chosen with ``HYPOTHESIS_PROFILE=check`` or ``--hypothesis-profile=check``. A test
that runs more (or fewer) examples than the profile's own says so with ``support.examples(n)``: n under
``full``, a tenth of n under ``check``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from aico.config import Settings, load_settings

from support import CHECK_EXAMPLES, FULL_EXAMPLES, home_env

hypothesis_settings.register_profile("full", max_examples=FULL_EXAMPLES)  # hypothesis's defaults: today's numbers
hypothesis_settings.register_profile("check", max_examples=CHECK_EXAMPLES, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "full"))


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
