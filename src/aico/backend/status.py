"""The backend's status file (``$AICO_HOME/run/backend.json``), read by ``aico gateway status``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from aico.config.private import private_dir, private_open
from aico.config.settings import Settings

STALE_AFTER_S = 5.0


def status_path(settings: Settings, name: str = "backend") -> Path:
    return settings.run_dir / f"{name}.json"


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
    fresh = time.time() - float(status.get("updated_epoch", 0)) < STALE_AFTER_S
    status["running"] = bool(status.get("state") == "running" and fresh and _alive(int(status.get("pid", 0))))
    return status
