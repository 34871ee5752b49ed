"""The backend service container: runs plugins in order, stops them in reverse.

``aico backend start`` runs one ``Container`` in the foreground until SIGINT or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from aico import __version__
from aico.backend import registry
from aico.backend.plugin import Plugin
from aico.backend.status import hold_running_lock, write_status
from aico.config.settings import Settings
from aico.errors import AicoError, BackendError
from aico.schema.timestamps import now_utc
from aico.stderr import say

#: An unchanged status is looked at less and less often, up to this (the file is written only on a change).
STATUS_IDLE_MAX_S = 5.0
_CLOCK_FIELDS = ("updated_at", "updated_epoch")


def _settled(plugin: dict[str, Any]) -> dict[str, Any]:
    """A plugin's figures without its countdowns (``*_in_s``, which move by themselves and are
    counted again from their ``*_at`` when the file is read) and clock readings (``*_at``
    derived from them would move by rounding)."""
    return {k: v for k, v in plugin.items() if not k.endswith("_in_s") and k != "next_run_at"}


def _say(message: str) -> None:
    """The container's own messages go to stderr: it runs the logging pipeline itself."""
    say(message, prefix="[aico backend]")


class Container:
    def __init__(self, settings: Settings, plugins: list[str] | None = None, name: str = "backend") -> None:
        self.settings = settings
        self.name = name
        self.names = plugins if plugins is not None else list(settings.core.backend.plugins)
        self.plugins: list[Plugin] = []
        self.state = "starting"
        self.started_at = now_utc()
        self._stop = threading.Event()
        self._written: dict[str, Any] | None = None  # the last status written, without its clock fields

    def start(self) -> None:
        for name in self.names:
            plugin = registry.factory(name)(self.settings)
            try:
                plugin.start()
            except AicoError as exc:
                self.state = "failed"
                self.stop()
                failed = BackendError(f"plugin {name} failed to start: {exc}")
                failed.exit_code = exc.exit_code  # a wrong key stays exit 3, a bad config 2
                raise failed from exc
            self.plugins.append(plugin)
            _say(f"plugin {name} started")
        self.state = "running"
        self.write_status()

    def stop(self) -> None:
        for plugin in reversed(self.plugins):
            started = time.monotonic()
            try:
                plugin.stop()
                _say(f"plugin {plugin.name} stopped ({time.monotonic() - started:.2f} s)")
            except Exception as exc:  # noqa: BLE001 - keep stopping the others: told
                _say(f"plugin {plugin.name} failed to stop cleanly: {exc}")
        self.plugins = []
        if self.state != "failed":
            self.state = "stopped"
        self.write_status()

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "name": self.name,
            "pid": os.getpid(),
            "version": __version__,
            "home": str(self.settings.home),
            "started_at": self.started_at,
            "updated_at": now_utc(),
            "updated_epoch": time.time(),
            "plugins": {p.name: p.status() for p in self.plugins},
        }

    def write_status(self, only_if_changed: bool = False) -> bool:
        """Write the status file (with ``only_if_changed``, only when a figure moved); True if written."""
        status = self.status()
        figures = {k: v for k, v in status.items() if k not in _CLOCK_FIELDS}
        figures["plugins"] = {name: _settled(p) for name, p in status["plugins"].items()}
        if only_if_changed and figures == self._written:
            return False
        try:
            write_status(self.settings, status, self.name)
        except OSError as exc:
            _say(f"cannot write status file: {exc}")
            return False
        self._written = figures
        return True

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def run_forever(self) -> None:
        """Start, refresh the status file until a stop signal, then stop in reverse order."""
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        self._lock_fd = hold_running_lock(self.settings, self.name)  # held until this process ends
        self.start()
        _say(f"running (home {self.settings.home}, bus {self.settings.core.message_bus.pub_port}/"
             f"{self.settings.core.message_bus.sub_port}); Ctrl-C to stop")
        interval = self.settings.core.backend.status_interval_ms / 1000.0
        wait = interval
        while not self._stop.wait(wait):
            wait = interval if self.write_status(only_if_changed=True) else min(wait * 2, max(interval,
                                                                                          STATUS_IDLE_MAX_S))
        _say("stopping")
        self.state = "stopping"
        self.stop()
