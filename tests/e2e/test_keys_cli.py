"""`aico keys`: status shows where each key is (never the key); export/import carries a home's logs to a new device."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aico.config import Settings

from retention_support import seed_days
from support import home_env, run_aico

SMALL = {"AICO_CORE__LOGGING__RETENTION__DAYS": "8", "AICO_CORE__LOGGING__RETENTION__HOT_DAYS": "3",
         "AICO_CORE__LOGGING__RETENTION__MIN_FREE_DISK_MB": "1"}


def archived_count(env: dict[str, str]) -> int:
    listing = json.loads(run_aico(env, "logs", "archive", "ls", "--json").stdout)
    assert all(a["error"] is None for a in listing["archives"]), listing
    return sum(int(a["records"]) for a in listing["archives"])


def test_status_lists_each_key_with_where_it_is_and_a_fingerprint_never_the_key(
        env: dict[str, str], settings: Settings) -> None:
    """Every key is listed; a made key shows file and a 16-hex fingerprint; the key's text is not printed."""
    seed_days(settings, datetime.now(UTC), 1, 3)
    out = run_aico(env, "keys", "status", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["key"]: r for r in json.loads(out.stdout)}
    assert set(rows) >= {"database", "archives", "analytics", "privacy", "spool", "bus", "bridge-token"}
    assert rows["database"]["kept"] == "file" and len(rows["database"]["fingerprint"]) == 16
    key = (Path(env["AICO_HOME"]) / "keys" / "db.key").read_text().strip()
    assert key not in out.stdout and key not in run_aico(env, "keys", "status").stdout
    with_env = run_aico({**env, "AICO_DB_KEY": key}, "keys", "status", "--json")
    assert {r["key"]: r["kept"] for r in json.loads(with_env.stdout)}["database"] == "environment"


def test_export_then_import_on_a_fresh_home_opens_the_old_store_and_archives(
        env: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    """A store and archives copied to a new home open once the backup is imported; a wrong passphrase: exit 3."""
    env = {**env, **SMALL}
    seed_days(settings, datetime.now(UTC), 6, 20)
    assert run_aico(env, "logs", "archive", "run").returncode == 0
    stored, archived = run_aico(env, "logs", "count").stdout.strip(), archived_count(env)
    assert archived > 0 and stored.isdigit() and int(stored) > 0
    backup = tmp_path / "keys.backup"
    done = run_aico({**env, "AICO_PASSPHRASE": "correct horse"}, "keys", "export", str(backup))
    assert done.returncode == 0, done.stderr
    text = backup.read_text()
    for key_file in (Path(env["AICO_HOME"]) / "keys").glob("*.key"):
        assert key_file.read_text().strip() not in text
    assert json.loads(text)["kdf"]["name"] == "argon2id" and oct(backup.stat().st_mode)[-3:] == "600"

    new_home = tmp_path / "device2"
    shutil.copytree(env["AICO_HOME"], new_home, ignore=shutil.ignore_patterns("keys"))
    new = {**home_env(new_home), **SMALL}
    assert run_aico(new, "logs", "count").returncode == 3  # no key yet: the store does not open

    wrong = run_aico({**new, "AICO_PASSPHRASE": "wrong horse"}, "keys", "import", str(backup))
    assert wrong.returncode == 3 and wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert "passphrase" in wrong.stderr and not (new_home / "keys").exists()

    done = run_aico({**new, "AICO_PASSPHRASE": "correct horse"}, "keys", "import", str(backup))
    assert done.returncode == 0, done.stderr
    assert run_aico(new, "logs", "count").stdout.strip() == stored
    assert archived_count(new) == archived
    again = run_aico({**new, "AICO_PASSPHRASE": "correct horse"}, "keys", "import", str(backup))
    assert again.returncode == 0 and "already here" in again.stdout


@pytest.mark.parametrize("command", ["export", "import"])
def test_no_passphrase_and_no_terminal_is_one_line(env: dict[str, str], tmp_path: Path, command: str) -> None:
    """Without AICO_PASSPHRASE and without a terminal, export and import say so in one line."""
    (tmp_path / "b").write_text('{"format": "aico-keys", "version": 1}')
    run_aico(env, "bridge", "token")
    out = run_aico(env, "keys", command, str(tmp_path / "b"), input="")
    assert out.returncode != 0 and out.stderr.count("\n") == 1 and "AICO_PASSPHRASE" in out.stderr


def test_passphrase_mode_runs_a_backend_with_no_key_in_clear(env: dict[str, str]) -> None:
    """With core.security.passphrase, the backend and a producer keep every named key wrapped; reading needs it."""
    from conftest import run_app
    from support import Backend

    env = {**env, "AICO_CORE__SECURITY__PASSPHRASE": "true", "AICO_PASSPHRASE": "s3cret words"}
    with Backend(env):
        assert run_app(env, "--records", "20", "--name", "pp", "--flush", "60")[-1]["flushed"] is True
        assert run_aico(env, "logs", "count").stdout.strip() == "20"
    keys = Path(env["AICO_HOME"]) / "keys"
    assert {p.name for p in keys.glob("*.key.wrapped")} >= {"db.key.wrapped", "spool.key.wrapped"}
    assert not list(keys.glob("*.key"))
    no_phrase = {k: v for k, v in env.items() if k != "AICO_PASSPHRASE"}
    out = run_aico(no_phrase, "logs", "count", input="")
    assert out.returncode != 0 and out.stderr.count("\n") == 1 and "AICO_PASSPHRASE" in out.stderr
