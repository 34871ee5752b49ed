"""The bridge's own process: uvicorn, the intake and the relaying producer, apart from the collector.

Parsing, judging and encoding frontend records is Python work; in the backend process it
would share one GIL with the collector, and under load each would stall the other. The
plugin (``plugin.py``) runs ``python -m aico.bridge.process`` and talks to it over pipes:

    stdin    the settings as one JSON line, then nothing: end of file (the plugin stops it,
             or the backend is gone) means stop taking requests, flush the producer, exit
    stdout   JSON lines: ``{"ready": {"port": p}}`` or ``{"error": "..."}`` once, then
             ``{"status": {...}}`` every status interval, and a last one on the way out
    stderr   the backend's own

Ctrl-C in a terminal reaches this process too: it is ignored here, the backend decides.
"""

from __future__ import annotations

import fcntl
import sys
import time
from pathlib import Path
from typing import Any

from aico import stderr
from aico.backend.served import Service, say, serve, stdin_closed
from aico.bridge.app import create_app
from aico.bridge.auth import load_token
from aico.bridge.intake import RELAY_PREFIX, Intake
from aico.bridge.server import BridgeServer
from aico.config.settings import Settings
from aico.logging.producer import Producer

PRODUCER_FIGURES = ("queued", "inflight", "spool_bytes", "acknowledged", "dropped_total",
                    "acks_bad", "acks_unknown", "ack_timeouts", "resent")
DURABLE_STEP_MS = 5  # the relaying producer's longest idle wait: a 2xx waits for its next spool write
SPOOL_NAME = "log_bridge"
SPOOL_WAIT_S = 30.0  # beyond a last bridge's shutdown: its server's graceful stop and its producer's flush


def wait_for_spool(folder: Path, timeout_s: float = SPOOL_WAIT_S) -> bool:
    """Wait until no live process holds the spool in ``folder``; True if none does (or there is none yet).

    A bridge whose backend was killed stops serving, then flushes for a while, holding its spool; the
    next backend's bridge must take that same spool over (it holds what the last one answered 2xx
    for), not start a second one beside it where those records would wait for some later start."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with (folder / "lock").open("a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when closed, at once
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)  # the last bridge's exit is a matter of seconds: a short poll
        except OSError:  # no spool there yet, or not usable: the producer finds out and says so
            return True


def relay_settings(settings: Settings) -> Settings:
    """``settings`` with the producer's idle wait at most ``DURABLE_STEP_MS``: a request that comes while
    the sender waits is written (and answered) within that, not within the library's 20 ms."""
    logging_cfg = settings.core.logging
    producer = logging_cfg.producer
    if producer.flush_interval_ms <= DURABLE_STEP_MS:
        return settings
    producer = producer.model_copy(update={"flush_interval_ms": DURABLE_STEP_MS})
    core = settings.core.model_copy(update={"logging": logging_cfg.model_copy(update={"producer": producer})})
    return settings.model_copy(update={"core": core})


class Bridge:
    """The relaying producer and the HTTP server in front of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.core.bridge
        self.producer: Producer | None = None
        self.server: BridgeServer | None = None
        self.intake: Intake | None = None

    def start(self) -> None:
        token = load_token(self.settings)
        if not wait_for_spool(self.settings.spool_dir / SPOOL_NAME):
            stderr.say(f"the spool {SPOOL_NAME} is still held after {SPOOL_WAIT_S:g}s: using another beside it "
                       "(what it holds is sent by the next bridge that gets it)", prefix="[aico bridge]")
        self.producer = Producer(relay_settings(self.settings), name=SPOOL_NAME, subsystem=self.cfg.subsystem,
                                 relay_prefix=RELAY_PREFIX).start()
        app = create_app(self.settings, self.producer, token)
        self.intake = app.state.intake
        self.server = BridgeServer(app, self.cfg.host, self.cfg.port, ws_max_size=self.cfg.max_body_bytes,
                                   request_timeout_s=self.cfg.request_timeout_s, keep_alive_s=self.cfg.keep_alive_s)
        self.server.start()

    def stop(self) -> None:
        """Stop taking requests, then give the producer its flush time to see what it holds stored."""
        if self.server is not None:
            self.server.stop()
        if self.producer is not None:
            self.producer.close()

    def status(self) -> dict[str, Any]:
        running = bool(self.server and self.server.running and self.producer and self.producer.running)
        out: dict[str, Any] = {"state": "running" if running else "failed"}
        if self.intake is not None:
            out.update(self.intake.counters.as_dict())
        if self.producer is not None:
            snap = self.producer.snapshot()
            out.update({f"producer_{k}": snap[k] for k in PRODUCER_FIGURES})
        return out


def main() -> int:
    return serve(Bridge, "bridge")


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Bridge", "Service", "main", "say", "serve", "stdin_closed"]
