"""Folders and files under AICO_HOME are made private whatever the umask, and open ones are closed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aico.config.private import private_dir, private_open, tighten, tighten_and_say


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_and_open_ignore_an_open_umask(tmp_path: Path) -> None:
    """Each missing level is 0700 and a new file 0600 under umask 000."""
    old = os.umask(0)
    try:
        deep = private_dir(tmp_path / "a" / "b" / "c")
        with open(deep / "f", "w", opener=private_open) as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    assert mode(deep / "f") == 0o600


def test_tighten_closes_what_is_open_and_says_it_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder 0755 and a file 0644 become 0700 and 0600, named on one stderr line; closed ones stay."""
    (tmp_path / "d").mkdir(mode=0o755)
    (tmp_path / "d" / "f").write_text("x")
    for path, wide in ((tmp_path, 0o755), (tmp_path / "d", 0o755), (tmp_path / "d" / "f", 0o644)):
        os.chmod(path, wide)  # whatever umask an earlier test in this worker left (the CLI sets 077)
    tighten_and_say(tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "3 folders or files" in err
    assert (mode(tmp_path), mode(tmp_path / "d"), mode(tmp_path / "d" / "f")) == (0o700, 0o700, 0o600)
    assert tighten(tmp_path) == []
