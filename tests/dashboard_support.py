"""A dashboard served by real uvicorn on a free port over a real encrypted store (no backend)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aico.bridge.server import BridgeServer
from aico.config import Settings, load_settings
from aico.dashboard.app import create_app
from aico.schema import normalize
from aico.store import LogStore

from support import home_env, stamp

TOKEN = "dashboard-test-token-0123456789"


def record(i: int, seconds_ago: float, **over: Any) -> dict[str, Any]:
    base = {"timestamp": stamp(seconds_ago), "level": "INFO", "module": "backend.api", "function": "handle",
            "topic": "api", "message": f"record {i}", "producer_id": "p", "seq": i}
    return normalize({**base, **over})


def make_home(home: Path, records: Sequence[dict[str, Any]], **env: str) -> Settings:
    settings = load_settings(env=home_env(home, **env))
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch(records)
    return settings


@contextmanager
def served(settings: Settings, clock: Callable[[], float] = time.time) -> Iterator[str]:
    """The dashboard's base url, serving until the block ends; ``clock`` is the time its auth goes by."""
    app = create_app(settings, TOKEN, clock=clock)
    server = BridgeServer(app, "127.0.0.1", 0, ws_max_size=65536, label="dashboard")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        app.state.pool.close()
