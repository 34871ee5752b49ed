"""Every bus socket is made here, so transport settings (and security) live in one place.

ZeroMQ errors are translated to ``BusError`` at this boundary. Sockets are not thread-safe:
each is used by the one thread that made it.
"""

from __future__ import annotations

import zmq

from aico.config.settings import MessageBus
from aico.errors import BusError

_context: zmq.Context[zmq.Socket[bytes]] | None = None


def context() -> zmq.Context[zmq.Socket[bytes]]:
    """The process's ZeroMQ context (made on first use, and again after a fork)."""
    global _context
    if _context is None or _context.closed:
        _context = zmq.Context()
    return _context


def _socket(kind: int, bus: MessageBus, *, hwm: int | None = None) -> zmq.Socket[bytes]:
    sock = context().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    limit = bus.high_water_mark if hwm is None else hwm
    sock.setsockopt(zmq.SNDHWM, limit)
    sock.setsockopt(zmq.RCVHWM, limit)
    return sock


def _wrap(action: str, address: str, fn: object) -> None:
    try:
        fn()  # type: ignore[operator]
    except zmq.ZMQError as exc:
        raise BusError(f"cannot {action} {address}: {exc.strerror}") from exc


def bind_xsub(bus: MessageBus) -> zmq.Socket[bytes]:
    """The broker's frontend: producers publish into it."""
    sock = _socket(zmq.XSUB, bus)
    address = f"tcp://{bus.bind_host}:{bus.pub_port}"
    _wrap("bind the bus publisher port at", address, lambda: sock.bind(address))
    return sock


def bind_xpub(bus: MessageBus) -> zmq.Socket[bytes]:
    """The broker's backend: subscribers receive from it."""
    sock = _socket(zmq.XPUB, bus)
    address = f"tcp://{bus.bind_host}:{bus.sub_port}"
    _wrap("bind the bus subscriber port at", address, lambda: sock.bind(address))
    return sock


def publisher(bus: MessageBus, *, hwm: int | None = None) -> zmq.Socket[bytes]:
    """A PUB socket connected to the broker's publisher port."""
    sock = _socket(zmq.PUB, bus, hwm=hwm)
    _wrap("connect to the bus at", bus.pub_address, lambda: sock.connect(bus.pub_address))
    return sock


def subscriber(bus: MessageBus, *topics: bytes, hwm: int | None = None) -> zmq.Socket[bytes]:
    """A SUB socket connected to the broker's subscriber port, subscribed to ``topics``."""
    sock = _socket(zmq.SUB, bus, hwm=hwm)
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    _wrap("connect to the bus at", bus.sub_address, lambda: sock.connect(bus.sub_address))
    return sock


def pair(address: str, *, bind: bool) -> zmq.Socket[bytes]:
    """An in-process PAIR socket, for steering a thread (e.g. stopping the broker's proxy)."""
    sock = context().socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 0)
    _wrap("bind" if bind else "connect", address, lambda: sock.bind(address) if bind else sock.connect(address))
    return sock
