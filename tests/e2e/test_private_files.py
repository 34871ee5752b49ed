"""AICO_HOME is private whatever the umask: every folder 0700, every file 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from test_zero_loss import count

from conftest import run_app
from support import Backend, run_aico, wait_until


def open_modes(home: Path) -> list[str]:
    """Every path under ``home`` (and itself) whose mode is not 0700 (folders) or 0600 (files)."""
    wrong = []
    for path in [home, *home.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            wrong.append(f"{path} {mode:o}")
    return wrong


def test_under_umask_000_the_backend_and_a_producer_make_only_private_folders_and_files(
        env: dict[str, str], tmp_path: Path) -> None:
    """With umask 000 in the children, a fresh home after a backend run and a producer holds only 0700/0600."""
    home = tmp_path / "fresh" / "home"
    env = {**env, "AICO_HOME": str(home)}
    old = os.umask(0)  # the children inherit it
    try:
        run_app(env, "--records", "50", "--name", "early", "--flush", "0")  # the library alone makes the home
        assert not open_modes(home)
        with Backend(env) as backend:
            assert run_app(env, "--records", "50", "--name", "early", "--start", "50", "--flush", "60")[-1]["flushed"]
            wait_until(lambda: count(env) == 100, timeout=60, interval=0.2, message="100 stored")
            assert run_aico(env, "logs", "ls", "rec").returncode == 0
        assert "were open to other users" in backend.output()  # its own log file, made before it started
    finally:
        os.umask(old)
    assert not open_modes(home)
