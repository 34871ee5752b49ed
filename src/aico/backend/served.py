"""The pipe protocol of a server child (the bridge, the dashboard), on the child's side.

The plugin (``aico.bridge.plugin``) starts ``python -m <module>`` and talks to it over pipes:

    stdin    the settings as one JSON line, then nothing: end of file (the plugin stops it,
             or the backend is gone) means stop taking requests, flush, exit
    stdout   JSON lines: ``{"ready": {"port": p}}`` or ``{"error": "..."}`` once, then
             ``{"status": {...}}`` whenever a figure changed, and a last one on the way out

Its own module so that the dashboard's process does not import the bridge's producer (and the
logger library, ZeroMQ, OpenTelemetry's protobufs: ~20 MB) to speak it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from collections.abc import Callable
from typing import IO, Any, Protocol

from aico import stderr
from aico.config.settings import Settings
from aico.errors import AicoError

#: An unchanged status is looked at less and less often, up to this: an idle child wakes every few seconds.
STATUS_IDLE_MAX_S = 5.0


def say(out: IO[str], message: dict[str, Any]) -> None:
    try:
        out.write(json.dumps(message) + "\n")
        out.flush()
    except (BrokenPipeError, ValueError):
        pass  # the backend is gone: end of file on stdin follows


def stdin_closed(timeout: float) -> bool:
    """Whether stdin reached its end within ``timeout`` seconds (anything else sent is ignored)."""
    readable, _, _ = select.select([0], [], [], timeout)
    return bool(readable) and os.read(0, 4096) == b""


class Service(Protocol):
    """What ``serve`` runs in a child process: the bridge here, the dashboard (``aico.dashboard.process``)."""

    settings: Settings
    server: Any  # a BridgeServer, once started

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def status(self) -> dict[str, Any]: ...


def serve(make: Callable[[Settings], Service], label: str) -> int:
    """The child's life on the pipe protocol above: start, say ready (or why not), report, stop at end of file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "w")  # the protocol's own channel: a stray print goes to stderr instead
    os.dup2(2, 1)
    service = make(Settings.model_validate_json(sys.stdin.buffer.readline()))
    try:
        service.start()
    except Exception as exc:  # noqa: BLE001 - a port in use, a spool held elsewhere, a bug: the plugin says why
        service.stop()
        say(out, {"error": str(exc) if isinstance(exc, AicoError) else f"{type(exc).__name__}: {exc}"})
        return 3
    assert service.server is not None
    say(out, {"ready": {"port": service.server.port}})
    interval = service.settings.core.backend.status_interval_ms / 1000
    wait, sent = interval, None
    while True:
        status = service.status()
        if status != sent:  # a figure moved: say it, and look again soon
            say(out, {"status": status})
            sent, wait = status, interval
        else:  # nothing moved: look less often, up to STATUS_IDLE_MAX_S
            wait = min(wait * 2, max(interval, STATUS_IDLE_MAX_S))
        if status["state"] != "running":  # a thread it needs ended: the plugin starts a new process
            stderr.say("the server or its producer stopped: exiting", prefix=f"[aico {label}]")
            service.stop()
            return 4
        if stdin_closed(wait):
            break
    service.stop()
    say(out, {"status": {**service.status(), "state": "stopped"}})
    return 0
