"""Connections that hold the bridge without sending a request are closed (slow or idle clients).

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``),
but not one that never finishes its first request: a client that opens a connection and sends
nothing, or half its headers, or half its body, would hold it (and its buffers) for ever. Here
every request, from its first byte (or from the connection's start) to its last body byte, must
arrive within ``request_timeout_s``; otherwise the connection is closed and counted
(``timeouts`` in the bridge's figures). A WebSocket, once upgraded, is kept alive by pings instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def timed_protocol(request_timeout_s: float, on_timeout: Callable[[], None]) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol with a deadline on receiving each whole request."""

    class TimedHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(request_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return  # gone, or upgraded to a WebSocket
            on_timeout()
            self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return TimedHttpToolsProtocol
