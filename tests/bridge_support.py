"""A bridge served by real uvicorn on a free port, handing records to a memory sink (no bus)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aico.bridge.app import create_app
from aico.bridge.server import BridgeServer
from aico.config import load_settings
from aico.schema.record import Record

from support import stamp

TOKEN = "test-token-0123456789"
ORIGIN = "http://app.test"


class MemorySink:
    """Takes what it is offered, all or nothing; ``full`` makes it refuse (the producer at its bounds);
    its receipts say durable at once, unless ``durable`` is set to False (never) or None (pending)."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.full = False
        self.durable: bool | None = True
        self.receipts: list[Future[bool]] = []
        self.counters: Any = None

    def offer_durable(self, records: Sequence[Record]) -> Future[bool] | None:
        if self.full:
            return None
        self.records.extend(records)
        receipt: Future[bool] = Future()
        if self.durable is not None:
            receipt.set_result(self.durable)
        self.receipts.append(receipt)
        return receipt

    def pressure(self, extra: int = 0) -> bool:
        return self.full


@contextmanager
def served(home: Path, **bridge: Any) -> Iterator[tuple[str, MemorySink]]:
    """(base url, sink) of a bridge running until the block ends."""
    settings = load_settings(home=home, env={}, overrides={"core": {"bridge": {"cors_origins": [ORIGIN], **bridge}}})
    sink = MemorySink()
    cfg = settings.core.bridge
    app = create_app(settings, sink, TOKEN)
    sink.counters = app.state.intake.counters  # the bridge's figures, for tests that check what was counted
    server = BridgeServer(app, "127.0.0.1", 0, ws_max_size=cfg.max_body_bytes,
                          request_timeout_s=cfg.request_timeout_s, keep_alive_s=cfg.keep_alive_s)
    server.start()
    try:
        yield server.url, sink
    finally:
        server.stop()


def record(i: int = 0, **more: Any) -> dict[str, Any]:
    return {"timestamp": stamp(60), "level": "INFO", "module": "web.chat",
            "function": "sendMessage", "topic": "ui/button/click", "message": f"clicked {i}", **more}
