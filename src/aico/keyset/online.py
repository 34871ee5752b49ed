"""Asking the running backend to re-key its store: a request file, a result file, a marker for readers.

The store writer process owns the only write connection, so with the backend running the
rekey is done there (``collector/writer.py``, command ``K``). The channel is three files in
``$AICO_HOME/run/`` (0700), no socket to secure:

    rekey-db.request      {"id": ...}  written by ``aico keys rotate db``, taken by the consumer
    rekey-db.<id>.result  {"old", "new"} or {"error"}  written by the consumer once the writer answered
    rekey-db.active       present while the writer waits for readers and re-keys: read pools
                          (the dashboard's) close their idle connections and wait until it goes

The consumer stops handing batches to the writer while a rekey runs (they wait in the consumer,
and past its bound in the producers' spools, unacknowledged): nothing is lost, only delayed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aico.backend.status import read_status
from aico.config.private import private_dir, private_open
from aico.config.settings import Settings
from aico.errors import StoreError

POLL_S = 0.05
READERS_WAIT_S = 15.0  # how long the writer waits for readers to close before it gives up


def _run(settings: Settings) -> Path:
    return private_dir(settings.run_dir)


def request_path(settings: Settings) -> Path:
    return settings.run_dir / "rekey-db.request"


def active_path(settings: Settings) -> Path:
    return settings.run_dir / "rekey-db.active"


def _result_path(settings: Settings, request_id: str) -> Path:
    return settings.run_dir / f"rekey-db.{request_id}.result"


def _write(path: Path, doc: dict[str, Any]) -> None:
    """All at once: a temporary file renamed over ``path``, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", opener=private_open) as fh:
        fh.write(json.dumps(doc))
    os.replace(tmp, path)


def backend_consumer_running(settings: Settings) -> bool:
    """Whether a backend of this home runs its log consumer (which owns the store writer)."""
    try:
        names = [p.stem for p in settings.run_dir.glob("*.json")]
    except OSError:
        return False
    for name in names:
        status = read_status(settings, name)
        if status and status["running"] and "log_consumer" in (status.get("plugins") or {}):
            return True
    return False


def ask_backend(settings: Settings, timeout: float) -> tuple[str, str]:
    """Have the running backend re-key the store; (old, new) fingerprints, or ``StoreError`` with its reason."""
    _run(settings)
    request_id = secrets.token_hex(8)
    result = _result_path(settings, request_id)
    _write(request_path(settings), {"id": request_id})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            doc = json.loads(result.read_text(encoding="utf-8"))
        except FileNotFoundError:
            time.sleep(POLL_S)
            continue
        result.unlink(missing_ok=True)
        if doc.get("error"):
            raise StoreError(f"the backend did not re-key the store: {doc['error']}")
        return str(doc["old"]), str(doc["new"])
    taken = not request_path(settings).exists()
    request_path(settings).unlink(missing_ok=True)
    if taken:
        raise StoreError(f"the backend took the request but did not answer within {timeout:.0f} s; the store "
                         "opens with the old or the new key: see aico keys status")
    raise StoreError(f"the backend did not take the request within {timeout:.0f} s: is its log consumer running?")


def take_request(settings: Settings) -> str | None:
    """The id of a waiting request, taken (the file removed); None when there is none."""
    path = request_path(settings)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    finally:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
    return str(doc.get("id") or "") or None


def answer(settings: Settings, request_id: str, doc: dict[str, Any]) -> None:
    """The result the waiting ``aico keys rotate`` reads."""
    try:
        _write(_result_path(settings, request_id), doc)
    except OSError:
        pass  # the command then says it had no answer


@contextlib.contextmanager
def readers_asked_away(settings: Settings) -> Iterator[None]:
    """The marker read pools watch for, present while the block runs."""
    _write(active_path(settings), {"pid": os.getpid()})
    try:
        yield
    finally:
        active_path(settings).unlink(missing_ok=True)


def rekey_active(settings: Settings) -> bool:
    """Whether a store writer is re-keying now (a marker left by a killed one does not count)."""
    try:
        pid = int(json.loads(active_path(settings).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
