"""``aico dashboard``: the login link, the plain address, the token file, opening a browser."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from support import run_aico

pytestmark = pytest.mark.e2e  # runs the aico CLI as processes: out of make check's fast tier


def test_url_token_and_open(env: dict[str, str], tmp_path: Path) -> None:
    """url prints the link (token after #), --plain the address; keys/dashboard.token is 0600; open runs $BROWSER."""
    port = env["AICO_CORE__DASHBOARD__PORT"]
    token = run_aico(env, "dashboard", "token").stdout.strip()
    assert len(token) >= 40
    path = Path(env["AICO_HOME"]) / "keys" / "dashboard.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().strip() == token
    assert run_aico(env, "dashboard", "url").stdout.strip() == f"http://127.0.0.1:{port}/#token={token}"
    assert run_aico(env, "dashboard", "url", "--plain").stdout.strip() == f"http://127.0.0.1:{port}/"
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o700)
    done = run_aico({**env, "BROWSER": str(browser)}, "dashboard", "open")
    assert done.returncode == 0, done.stderr
    page = Path(opened.read_text().strip().removeprefix("file://"))  # the token is not on the browser's command line
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f'url=http://127.0.0.1:{port}/#token={token}"' in page.read_text()
    refused = run_aico({**env, "BROWSER": "false"}, "dashboard", "open")
    assert refused.returncode == 1 and f"#token={token}" in refused.stderr
