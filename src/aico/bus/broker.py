"""The bus broker: XSUB on ``pub_port`` <-> XPUB on ``sub_port``, forwarding ``logs.*`` and acks.

The proxy runs in C (``zmq.proxy_steerable``) on a thread of its own and holds no GIL.
"""

from __future__ import annotations

import logging
import threading
import uuid

import zmq
from zmq.auth.thread import ThreadAuthenticator

from aico.bus import sockets
from aico.bus.curve import BusKeys
from aico.config.settings import MessageBus
from aico.errors import BusError


class Broker:
    def __init__(self, bus: MessageBus, keys: BusKeys | None) -> None:
        self.bus = bus
        self.keys = keys
        self._auth: ThreadAuthenticator | None = None
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

    def _start_auth(self) -> None:
        """A ZAP handler admitting only the keys in ``BusKeys.allowed()``."""
        if self.keys is None:
            return
        keys = self.keys

        class Allowed:
            def callback(self, domain: str, key: bytes) -> bool:
                return key in keys.allowed()

        self._auth = ThreadAuthenticator(sockets.context(), log=logging.getLogger("aico.bus.auth"))
        self._auth.start()
        self._auth.configure_curve_callback(domain="*", credentials_provider=Allowed())

    def _run(self) -> None:
        try:
            self._start_auth()
            xsub, xpub = sockets.bind_broker(self.bus, self.keys)
            control = sockets.pair(self._control_address, bind=True)
        except BusError as exc:
            self.error = str(exc)
            self._bound.set()
            if self._auth is not None:
                self._auth.stop()
            return
        self._bound.set()
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.ETERM:
                self.error = f"broker stopped: {exc.strerror}"
        finally:
            sockets.broker_closed(self.bus)
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
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
