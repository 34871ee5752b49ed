"""The backend's status file (``$AICO_HOME/run/backend.json``), read by ``aico gateway status``.

The backend writes it when a figure changes, not on a timer; whether it is still running is told
by a lock it holds on ``run/backend.lock`` for its whole life (the kernel lets go of it when the
process ends, even killed), so an idle backend need not rewrite the file to look alive. A status
file without a lock file (written by an older version) is judged by its age, as before.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aico.config.private import private_dir, private_open
from aico.config.settings import Settings
from aico.schema.timestamps import parse_utc

STALE_AFTER_S = 5.0


def status_path(settings: Settings, name: str = "backend") -> Path:
    return settings.run_dir / f"{name}.json"


def lock_path(settings: Settings, name: str = "backend") -> Path:
    return settings.run_dir / f"{name}.lock"


def hold_running_lock(settings: Settings, name: str = "backend") -> int | None:
    """Take the lock that says this backend runs; its descriptor (kept open for the process's life),
    or None when another process holds it (the status then cannot tell the two apart: as before)."""
    path = lock_path(settings, name)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _lock_held(path: Path) -> bool | None:
    """Whether a process holds the lock at ``path``; None when there is no lock file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError:
        return True  # cannot look: do not call a backend dead for that
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # (closing drops the shared lock, if it was taken)
    return False


def write_status(settings: Settings, status: dict[str, Any], name: str = "backend") -> None:
    path = status_path(settings, name)
    private_dir(path.parent)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", opener=private_open) as fh:
        fh.write(json.dumps(status, indent=2, default=str))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(settings: Settings, name: str = "backend") -> dict[str, Any] | None:
    """The last status the backend wrote, with ``running`` false if it is gone or stale."""
    path = status_path(settings, name)
    try:
        status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    for plugin in (status.get("plugins") or {}).values():  # countdowns as of now, not as of the last write
        if isinstance(plugin, dict) and plugin.get("next_run_at") and plugin.get("next_run_in_s") is not None:
            try:
                left = (parse_utc(str(plugin["next_run_at"])) - datetime.now(UTC)).total_seconds()
            except ValueError:
                continue
            plugin["next_run_in_s"] = round(max(0.0, left), 1)
    held = _lock_held(lock_path(settings, name))
    live = held if held is not None else time.time() - float(status.get("updated_epoch", 0)) < STALE_AFTER_S
    status["running"] = bool(status.get("state") == "running" and live and _alive(int(status.get("pid", 0))))
    return status
