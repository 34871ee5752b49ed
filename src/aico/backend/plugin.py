"""The plugin contract of the backend service container.

A plugin is made by a factory ``factory(settings) -> Plugin``, named in ``registry.PLUGINS``.
The container starts plugins in the configured order and stops them in reverse.
"""

from __future__ import annotations

from typing import Any, Protocol


class Plugin(Protocol):
    name: str

    def start(self) -> None:
        """Start, and return once the plugin does its job (raise ``BackendError`` if it cannot)."""

    def stop(self) -> None:
        """Finish what is in hand (the consumer commits what it holds), release everything, return."""

    def status(self) -> dict[str, Any]:
        """``{"state": "running"|"stopped"|"failed", ...counters}``: cheap, callable from any thread."""
