"""Every bus socket is made here, so transport settings and security live in one place.

With CurveZMQ on (the default), the broker's sockets are CURVE servers and every client
socket authenticates with the local client key (``curve.py``); a client without it gets
nothing through. Sockets in the broker's own process connect over ``inproc://`` instead,
with no crypto and no TCP. ZeroMQ errors are translated to ``BusError`` at this boundary.
Sockets are not thread-safe: each is used by the one thread that made it.
"""

from __future__ import annotations

from collections.abc import Callable

import zmq

from aico.bus.curve import BusKeys
from aico.config.settings import MessageBus
from aico.errors import BusError

_context: zmq.Context[zmq.Socket[bytes]] | None = None
_local_brokers: dict[tuple[int, int], tuple[str, str]] = {}  # (pub, sub port) -> inproc endpoints


def context() -> zmq.Context[zmq.Socket[bytes]]:
    """The process's ZeroMQ context (made on first use)."""
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


def _wrap(action: str, address: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except zmq.ZMQError as exc:
        raise BusError(f"cannot {action} {address}: {exc.strerror}") from exc


def _as_server(sock: zmq.Socket[bytes], keys: BusKeys | None) -> None:
    if keys is not None:
        sock.curve_server = True
        sock.curve_secretkey = keys.server_secret
        sock.curve_publickey = keys.server_public


def _as_client(sock: zmq.Socket[bytes], keys: BusKeys | None) -> None:
    if keys is not None:
        sock.curve_serverkey = keys.server_public
        sock.curve_publickey = keys.client_public
        sock.curve_secretkey = keys.client_secret


def inproc_endpoints(bus: MessageBus) -> tuple[str, str]:
    return (f"inproc://aico-bus-{bus.pub_port}-xsub", f"inproc://aico-bus-{bus.sub_port}-xpub")


def bind_broker(bus: MessageBus, keys: BusKeys | None) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """The broker's XSUB (producers publish into it) and XPUB (subscribers read from it)."""
    xsub = _socket(zmq.XSUB, bus)
    xpub = _socket(zmq.XPUB, bus)
    try:
        for sock, port, inproc in zip((xsub, xpub), (bus.pub_port, bus.sub_port), inproc_endpoints(bus), strict=True):
            _as_server(sock, keys)
            address = f"tcp://{bus.bind_host}:{port}"
            _wrap("bind the bus port at", address, lambda s=sock, a=address: s.bind(a))  # type: ignore[misc]
            _wrap("bind", inproc, lambda s=sock, a=inproc: s.bind(a))  # type: ignore[misc]
    except BusError:
        xsub.close()
        xpub.close()
        raise
    _local_brokers[(bus.pub_port, bus.sub_port)] = inproc_endpoints(bus)
    return xsub, xpub


def broker_closed(bus: MessageBus) -> None:
    _local_brokers.pop((bus.pub_port, bus.sub_port), None)


def _endpoint(bus: MessageBus, side: int) -> str | None:
    local = _local_brokers.get((bus.pub_port, bus.sub_port))
    return local[side] if local else None


def publisher(bus: MessageBus, *, keys: BusKeys | None, hwm: int | None = None,
              backpressure: bool = False) -> zmq.Socket[bytes]:
    """A publisher connected to the broker's publisher port (inproc when the broker is here).

    A PUB socket drops silently at its high-water mark. With ``backpressure`` it is an XPUB
    with ``XPUB_NODROP`` instead: a full queue makes a non-blocking send raise ``zmq.Again``,
    so the caller keeps what it could not send (the subscriptions it receives are ignored).
    """
    sock = _socket(zmq.XPUB if backpressure else zmq.PUB, bus, hwm=hwm)
    if backpressure:
        sock.setsockopt(zmq.XPUB_NODROP, 1)
    address = _endpoint(bus, 0)
    if address is None:
        _as_client(sock, keys)
        address = bus.pub_address
    _wrap("connect to the bus at", address, lambda: sock.connect(address))
    return sock


def subscriber(bus: MessageBus, *topics: bytes, keys: BusKeys | None, hwm: int | None = None) -> zmq.Socket[bytes]:
    """A SUB socket connected to the broker's subscriber port, subscribed to ``topics``."""
    sock = _socket(zmq.SUB, bus, hwm=hwm)
    for topic in topics:
        sock.setsockopt(zmq.SUBSCRIBE, topic)
    address = _endpoint(bus, 1)
    if address is None:
        _as_client(sock, keys)
        address = bus.sub_address
    _wrap("connect to the bus at", address, lambda: sock.connect(address))
    return sock


def pair(address: str, *, bind: bool) -> zmq.Socket[bytes]:
    """An in-process PAIR socket, for steering a thread (e.g. stopping the broker's proxy)."""
    sock = context().socket(zmq.PAIR)
    sock.setsockopt(zmq.LINGER, 0)
    _wrap("bind" if bind else "connect", address, lambda: sock.bind(address) if bind else sock.connect(address))
    return sock
