"""Plugin ``log_bridge``: the frontend bridge inside the backend.

One relaying ``Producer`` (name ``log_bridge``) takes every accepted record: its spool
keeps them across a restart, and its acknowledgements tell it what is stored.
"""

from __future__ import annotations

from typing import Any

from aico.bridge.app import create_app
from aico.bridge.auth import load_token
from aico.bridge.intake import RELAY_PREFIX, Intake
from aico.bridge.server import BridgeServer
from aico.config.settings import Settings
from aico.errors import BackendError
from aico.logging.producer import Producer

PRODUCER_FIGURES = ("queued", "inflight", "spool_bytes", "acknowledged", "dropped_total")


class LogBridgePlugin:
    name = "log_bridge"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.core.bridge
        self.producer: Producer | None = None
        self.server: BridgeServer | None = None
        self.intake: Intake | None = None
        self._state = "stopped"

    def start(self) -> None:
        try:
            token = load_token(self.settings)
            self.producer = Producer(self.settings, name="log_bridge", subsystem=self.cfg.subsystem,
                                     relay_prefix=RELAY_PREFIX).start()
            app = create_app(self.settings, self.producer, token)
            self.intake = app.state.intake
            self.server = BridgeServer(app, self.cfg.host, self.cfg.port, ws_max_size=self.cfg.max_body_bytes)
            self.server.start()
        except Exception as exc:
            self._state = "failed"
            self.stop()
            if isinstance(exc, BackendError):
                raise
            raise BackendError(f"log bridge cannot start: {exc}") from exc
        self._state = "running"

    def stop(self) -> None:
        """Stop taking requests, then give the producer its flush time to see what it holds stored."""
        if self.server is not None:
            self.server.stop()
        if self.producer is not None:
            self.producer.close()
        if self._state != "failed":
            self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and not (self.server and self.server.running and self.producer
                                       and self.producer.running):
            state = "failed"
        out: dict[str, Any] = {"state": state, "host": self.cfg.host, "port": self.cfg.port}
        if self.server is not None:
            out["url"] = self.server.url
        if self.intake is not None:
            out.update(self.intake.counters.as_dict())
        if self.producer is not None:
            snap = self.producer.snapshot()
            out.update({f"producer_{k}": snap[k] for k in PRODUCER_FIGURES})
        return out


def create(settings: Settings) -> LogBridgePlugin:
    return LogBridgePlugin(settings)
