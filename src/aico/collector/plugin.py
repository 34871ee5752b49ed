"""Plugin ``log_consumer``: the collector inside the backend."""

from __future__ import annotations

from typing import Any

from aico.collector.consumer import LogConsumer
from aico.config.settings import Settings


class LogConsumerPlugin:
    name = "log_consumer"

    def __init__(self, settings: Settings) -> None:
        self.consumer = LogConsumer(settings)
        self._state = "stopped"

    def start(self) -> None:
        try:
            self.consumer.start()
        except Exception:
            self._state = "failed"
            raise
        self._state = "running"

    def stop(self) -> None:
        self.consumer.stop()
        self._state = "stopped"

    def status(self) -> dict[str, Any]:
        state = self._state
        if state == "running" and not self.consumer.running:
            state = "failed"
        return {"state": state, **self.consumer.counters.as_dict()}


def create(settings: Settings) -> LogConsumerPlugin:
    return LogConsumerPlugin(settings)
