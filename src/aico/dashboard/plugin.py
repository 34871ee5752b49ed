"""Plugin ``log_dashboard``: the dashboard's server in a process of its own, started and watched
as the bridge's is (``aico.bridge.plugin``: restarted if it exits, stopped by closing its stdin).

It refuses to start on an address other than loopback unless ``core.dashboard.auth`` is on:
the store holds everything every application logged.
"""

from __future__ import annotations

from typing import Any

from aico.bridge.plugin import LogBridgePlugin
from aico.config.settings import Settings
from aico.dashboard.auth import load_token
from aico.errors import BackendError


class LogDashboardPlugin(LogBridgePlugin):
    name = "log_dashboard"
    label = "dashboard"
    process_module = "aico.dashboard.process"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.cfg = settings.core.dashboard
        self.port = self.cfg.port

    def start(self) -> None:
        if not self.cfg.auth and not self.cfg.loopback:
            self._state = "failed"
            raise BackendError(f"refusing to serve the dashboard on {self.cfg.host} without auth: "
                               "set core.dashboard.auth to true, or bind a loopback address")
        load_token(self.settings)  # made here, so `aico dashboard url` finds it at once
        super().start()

    def status(self) -> dict[str, Any]:
        return {**super().status(), "auth": self.cfg.auth}


def create(settings: Settings) -> LogDashboardPlugin:
    return LogDashboardPlugin(settings)
