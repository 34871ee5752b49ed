"""uvicorn in a thread of the backend process: bound before it starts, stopped cleanly."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from aico.bridge.timeouts import timed_protocol
from aico.errors import BackendError
from aico.recursion_guard import infrastructure_thread
from aico.stderr import say

START_TIMEOUT_S = 15.0


class BridgeServer:
    def __init__(self, app: FastAPI, host: str, port: int, *, ws_max_size: int, request_timeout_s: float = 30.0,
                 keep_alive_s: float = 5.0, label: str = "bridge") -> None:
        self.label = label  # "bridge" or "dashboard": its messages and the setting they point to
        self.host = host
        self.port = port
        self.timeouts = 0  # connections closed for not sending a whole request in time
        self.config = uvicorn.Config(
            app, log_config=None, access_log=False, log_level="warning", lifespan="off",
            server_header=False, ws_max_size=ws_max_size, timeout_graceful_shutdown=5,
            http=timed_protocol(request_timeout_s, self._timed_out), timeout_keep_alive=max(1, round(keep_alive_s)),
        )
        self._intake = getattr(getattr(app, "state", None), "intake", None)
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _timed_out(self) -> None:
        self.timeouts += 1
        if self._intake is not None:
            self._intake.counters.timeouts += 1

    def start(self) -> None:
        """Bind (a clear error if the port is taken), serve in a thread, return once it answers."""
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise BackendError(f"{self.label} cannot listen on {self.host}:{self.port}: {exc.strerror} "
                               f"(set core.{self.label}.port)") from exc
        sock.listen(2048)
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), name=f"aico-{self.label}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BackendError(f"{self.label} did not start on {self.host}:{self.port}: {self._error or 'timeout'}")
            time.sleep(0.01)

    def _serve(self, sock: socket.socket) -> None:
        with infrastructure_thread():  # the bridge is logging infrastructure: nothing here logs through itself
            try:
                self.server.run(sockets=[sock])
            except BaseException as exc:  # noqa: BLE001 - SystemExit from a failed startup included: kept, told
                self._error = exc
                say(f"server stopped: {type(exc).__name__}: {exc}", prefix=f"[aico {self.label}]")
            finally:
                sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self.server.started

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
