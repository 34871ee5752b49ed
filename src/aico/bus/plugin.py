"""Plugin ``message_bus``: runs the broker inside the backend."""

from __future__ import annotations

from typing import Any

from aico.bus.broker import Broker
from aico.bus.curve import bus_keys
from aico.config.settings import Settings


class MessageBusPlugin:
    name = "message_bus"

    def __init__(self, settings: Settings) -> None:
        self.bus = settings.core.message_bus
        self.broker = Broker(self.bus, bus_keys(settings))
        self._state = "stopped"

    def start(self) -> None:
        try:
            self.broker.start()
        except Exception:
            self._state = "failed"
            raise
        self._state = "running"

    def stop(self) -> None:
        self.broker.stop()
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and not self.broker.running:
            state = "failed"
        return {
            "state": state,
            "pub_port": self.bus.pub_port,
            "sub_port": self.bus.sub_port,
            "error": self.broker.error,
        }


def create(settings: Settings) -> MessageBusPlugin:
    return MessageBusPlugin(settings)
