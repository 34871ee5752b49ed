"""The bus broker: XSUB on ``pub_port`` <-> XPUB on ``sub_port``, forwarding ``logs.*`` and acks.

The proxy runs in C (``zmq.proxy_steerable``) on a thread of its own and holds no GIL.
"""

from __future__ import annotations

import threading
import uuid

import zmq

from aico.bus import sockets
from aico.config.settings import MessageBus
from aico.errors import BusError


class Broker:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self._thread: threading.Thread | None = None
        self._control_address = f"inproc://aico-broker-{uuid.uuid4().hex}"
        self._control: zmq.Socket[bytes] | None = None
        self.error: str | None = None
        self._bound = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aico-broker", daemon=True)
        self._thread.start()
        self._bound.wait(10)
        if self.error:
            raise BusError(self.error)

    def _run(self) -> None:
        try:
            xsub = sockets.bind_xsub(self.bus)
            try:
                xpub = sockets.bind_xpub(self.bus)
            except BusError:
                xsub.close()
                raise
            control = sockets.pair(self._control_address, bind=True)
        except BusError as exc:
            self.error = str(exc)
            self._bound.set()
            return
        self._bound.set()
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                self.error = f"broker stopped: {exc.strerror}"
        finally:
            for sock in (xsub, xpub, control):
                sock.close(linger=0)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        if not self.running:
            return
        control = sockets.pair(self._control_address, bind=False)
        try:
            control.send(b"TERMINATE")
        finally:
            control.close(linger=100)
        assert self._thread is not None
        self._thread.join(timeout)
