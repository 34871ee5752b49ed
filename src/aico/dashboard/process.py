"""The dashboard's own process: uvicorn and the store readers, apart from the collector.

libSQL holds the GIL while a statement runs: a histogram over a month of records in the
backend's process would stall the collector for its duration. The plugin (``plugin.py``)
runs ``python -m aico.dashboard.process`` with the bridge's pipe protocol (``aico.bridge.process``):
the settings as one JSON line on stdin, then end of file means stop; on stdout
``{"ready": {"port": p}}`` or ``{"error": "..."}``, then ``{"status": {...}}`` lines.
"""

from __future__ import annotations

import sys
from typing import Any

from aico.backend.served import serve
from aico.bridge.server import BridgeServer
from aico.config.settings import Settings
from aico.dashboard import tail
from aico.dashboard.app import create_app
from aico.dashboard.auth import load_token


class Dashboard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.core.dashboard
        self.server: BridgeServer | None = None
        self.app: Any = None

    def start(self) -> None:
        self.app = create_app(self.settings, load_token(self.settings))
        self.server = BridgeServer(self.app, self.cfg.host, self.cfg.port, ws_max_size=65536, label="dashboard")
        self.server.start()

    def stop(self) -> None:
        tail.STOPPING.set()  # live-tail streams end at their next poll, so the server stops at once
        if self.server is not None:
            self.server.stop()
        if self.app is not None:
            self.app.state.pool.close()

    def status(self) -> dict[str, Any]:
        running = bool(self.server and self.server.running)
        return {"state": "running" if running else "failed", "auth": self.cfg.auth}


def main() -> int:
    return serve(Dashboard, "dashboard")


if __name__ == "__main__":
    sys.exit(main())
