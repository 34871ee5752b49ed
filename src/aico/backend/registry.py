"""Where each plugin lives: name -> ``module:factory``. Adding a plugin is one line here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from aico.errors import BackendError
from aico.extras import extra_for, needs

PLUGINS: dict[str, str] = {
    "message_bus": "aico.bus.plugin:create",
    "log_consumer": "aico.collector.plugin:create",
    "log_bridge": "aico.bridge.plugin:create",
    "log_retention": "aico.retention.plugin:create",
    "log_analytics": "aico.analytics.plugin:create",
    "log_dashboard": "aico.dashboard.plugin:create",
    "log_otlp_export": "aico.otlp.plugin:create",
}


def factory(name: str) -> Callable[..., Any]:
    try:
        target = PLUGINS[name]
    except KeyError:
        raise BackendError(f"unknown plugin {name!r} (known: {', '.join(PLUGINS)})") from None
    module, _, attr = target.partition(":")
    try:
        factory: Callable[..., Any] = getattr(importlib.import_module(module), attr)
        return factory
    except ModuleNotFoundError as exc:  # a plugin of an extra this install lacks
        extra = extra_for(exc)
        if extra is None:
            raise
        raise BackendError(needs(f"plugin {name}", extra)) from exc
