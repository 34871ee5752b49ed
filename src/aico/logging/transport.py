"""The producer's transport seam: ZeroMQ in production, memory in unit tests.

A transport is used by the one sender thread only (ZeroMQ sockets are not thread-safe).
"""

from __future__ import annotations

import time
from typing import Protocol

import zmq

from aico.bus import sockets
from aico.bus.curve import BusKeys
from aico.config.settings import MessageBus
from aico.wake import Bell


class Transport(Protocol):
    def send(self, topic: bytes, payloads: list[bytes]) -> bool:
        """Queue one bus message ``[topic, *payloads]``; False if it cannot be queued now."""

    def wait_acks(self, timeout_s: float, want_send: bool = False) -> list[bytes]:
        """Acknowledgement payloads that arrive within ``timeout_s`` (all that are there);
        with ``want_send``, return as soon as the socket can take more, too."""

    def ready(self) -> bool:
        """Whether records sent now can reach a subscriber (False: keep them for now)."""

    def sleep(self, bell: Bell, timeout_s: float) -> list[bytes]:
        """Wait for an acknowledgement or ``bell`` (or ``timeout_s``): the idle sender's only wait."""

    def close(self, linger_s: float) -> None: ...


def _readable(sock: zmq.Socket[bytes]) -> bool:
    """Whether a message is waiting (cheaper than a recv that raises Again when none is)."""
    return bool(int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN)


_MORE = int(zmq.SNDMORE | zmq.NOBLOCK)
_LAST = int(zmq.NOBLOCK)


class ZmqTransport:
    """PUB to the broker's publisher port; SUB to ``acks.<producer id>`` on its subscriber port."""

    def __init__(self, bus: MessageBus, producer_id: str, *, acks: bool, keys: BusKeys | None,
                 send_hwm: int | None = None) -> None:
        self.pub = sockets.publisher(bus, keys=keys, hwm=send_hwm, backpressure=acks)
        self.sub = sockets.subscriber(bus, f"acks.{producer_id}".encode(), keys=keys) if acks else None
        self.poller = zmq.Poller()
        if self.sub is not None:
            self.poller.register(self.sub, zmq.POLLIN)
        # Acks and room to send (after a collector subscribed) or a subscription (before).
        self._poll_room, self._poll_joined = zmq.Poller(), zmq.Poller()
        for poller, event in ((self._poll_room, zmq.POLLOUT), (self._poll_joined, zmq.POLLIN)):
            if self.sub is not None:
                poller.register(self.sub, zmq.POLLIN)
            poller.register(self.pub, event)
        # A plain PUB cannot tell; an XPUB learns it from the subscriptions it receives.
        self._xpub = self.pub.socket_type == zmq.XPUB
        self._subscribed = not self._xpub
        self._drained_at = 0.0

    def send(self, topic: bytes, payloads: list[bytes]) -> bool:
        # Frame by frame with plain int flags: send_multipart combines enum flags for every
        # frame, which costs more than sending a small frame. Once the first frame is taken,
        # ZeroMQ takes the rest of the message (its high-water mark counts whole messages).
        if not payloads:
            return True
        send = self.pub.send
        try:
            send(topic, _MORE)
        except zmq.Again:
            return False
        for payload in payloads[:-1]:
            send(payload, _MORE)
        send(payloads[-1], _LAST)
        return True

    def wait_acks(self, timeout_s: float, want_send: bool = False) -> list[bytes]:
        if self.sub is None and not want_send:
            if timeout_s > 0:
                time.sleep(timeout_s)  # no acks to wait for: this is the sender's pause
            return []
        if not self._subscribed or time.monotonic() - self._drained_at > 1.0:
            self._drain_subscriptions()  # once someone listens, only to keep that queue short
        out: list[bytes] = []
        poller = self.poller
        if want_send or not self._subscribed:
            # Before a collector subscribes, wake on its subscription; after, on room to send.
            poller = self._poll_room if self._subscribed else self._poll_joined
        if not poller.poll(int(timeout_s * 1000)) or self.sub is None:
            return out
        while _readable(self.sub):  # no exception at the end, unlike recv's Again
            try:
                frames = self.sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            # A message not shaped [topic, ack] is handed on empty: it names no producer, and the
            # producer counts it as a bad acknowledgement (acks_bad) instead of it vanishing here.
            out.append(frames[1] if len(frames) == 2 else b"")
        return out

    def sleep(self, bell: Bell, timeout_s: float) -> list[bytes]:
        poller = zmq.Poller()
        poller.register(bell.fd, zmq.POLLIN)
        if self.sub is not None:
            poller.register(self.sub, zmq.POLLIN)
        events = dict(poller.poll(int(timeout_s * 1000)))
        if events.get(bell.fd):
            bell.clear()
        return self.wait_acks(0) if self.sub is not None and events.get(self.sub) else []

    def _drain_subscriptions(self) -> None:
        """An XPUB publisher hears the subscriptions that reach it: one to ``logs.`` means a
        collector listens, so sending before it (the slow joiner) would only lose records."""
        if not self._xpub:
            return
        self._drained_at = time.monotonic()
        while _readable(self.pub):
            try:
                message = self.pub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if message[:1] == b"\x01" and b"logs.".startswith(message[1:]):
                self._subscribed = True

    def ready(self) -> bool:
        if not self._subscribed:
            self._drain_subscriptions()
        return self._subscribed

    def close(self, linger_s: float) -> None:
        self.pub.close(linger=int(linger_s * 1000))
        if self.sub is not None:
            self.sub.close(linger=0)


class MemoryTransport:
    """A transport that keeps what is sent, for tests; acks are handed in with ``ack()``."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.sent: list[tuple[bytes, list[bytes]]] = []
        self._acks: list[bytes] = []
        self.closed = False

    def send(self, topic: bytes, payloads: list[bytes]) -> bool:
        if not self.accept:
            return False
        self.sent.append((topic, list(payloads)))
        return True

    def ready(self) -> bool:
        return True

    def ack(self, payload: bytes) -> None:
        self._acks.append(payload)

    def wait_acks(self, timeout_s: float, want_send: bool = False) -> list[bytes]:
        out, self._acks = self._acks, []
        if not out and timeout_s > 0:
            time.sleep(min(timeout_s, 0.005))
        return out

    def sleep(self, bell: Bell, timeout_s: float) -> list[bytes]:
        """A test seam: acks handed in by ``ack()`` are looked for every few milliseconds."""
        return self.wait_acks(min(timeout_s, 0.005))

    def close(self, linger_s: float) -> None:
        self.closed = True
