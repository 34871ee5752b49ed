"""``aico dashboard``: the login link, the plain address, the token file, opening a browser."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from support import run_aico

pytestmark = pytest.mark.e2e  # runs the aico CLI as processes: out of make check's fast tier


def test_url_token_and_open(env: dict[str, str], tmp_path: Path) -> None:
    """url prints a link with a new one-time code after #, kept only hashed (0600); --plain the address;
    keys/dashboard.token is 0600; open hands $BROWSER a private page, not a command line with the code."""
    port = env["AICO_CORE__DASHBOARD__PORT"]
    token = run_aico(env, "dashboard", "token").stdout.strip()
    assert len(token) >= 40
    keys = Path(env["AICO_HOME"]) / "keys"
    path = keys / "dashboard.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == token
    links = [run_aico(env, "dashboard", "url").stdout.strip() for _ in range(2)]
    codes = [link.removeprefix(f"http://127.0.0.1:{port}/#login=") for link in links]
    assert all(len(c) >= 40 and "/" not in c for c in codes) and codes[0] != codes[1]
    kept = keys / "dashboard-logins.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert sorted(json.loads(kept.read_text())) == sorted(hashlib.sha256(c.encode()).hexdigest() for c in codes)
    assert token not in links[0] and codes[0] not in kept.read_text()
    assert run_aico(env, "dashboard", "url", "--plain").stdout.strip() == f"http://127.0.0.1:{port}/"
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o700)
    done = run_aico({**env, "BROWSER": str(browser)}, "dashboard", "open")
    assert done.returncode == 0, done.stderr
    page = Path(opened.read_text().strip().removeprefix("file://"))  # the code is not on the browser's command line
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f'url=http://127.0.0.1:{port}/#login=' in page.read_text()
    refused = run_aico({**env, "BROWSER": "false"}, "dashboard", "open")
    assert refused.returncode == 1 and f"http://127.0.0.1:{port}/#login=" in refused.stderr
