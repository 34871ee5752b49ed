"""``aico bus test``: a message through the broker and back, on a topic no consumer stores."""

from __future__ import annotations

import time
import uuid

import zmq

from aico.bus import sockets
from aico.bus.curve import BusKeys
from aico.config.settings import MessageBus
from aico.errors import BusError


def probe(bus: MessageBus, keys: BusKeys | None, timeout: float = 3.0) -> float:
    """Round-trip seconds of a probe through the broker; ``BusError`` with a reason if none."""
    topic = f"probe.{uuid.uuid4().hex}".encode()
    sub = sockets.subscriber(bus, topic, keys=keys)
    pub = sockets.publisher(bus, keys=keys)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    start = time.monotonic()
    deadline = start + timeout
    try:
        while time.monotonic() < deadline:
            # Subscriptions take a moment to reach the broker (the slow joiner), so send again.
            sent = time.monotonic()
            pub.send_multipart([topic, str(sent).encode()])
            if poller.poll(100):
                sub.recv_multipart()
                return time.monotonic() - start
    finally:
        pub.close(linger=0)
        sub.close(linger=0)
    raise BusError(
        f"no answer through the bus within {timeout:g}s (publish {bus.pub_address}, "
        f"subscribe {bus.sub_address}): is the backend running{' with the same bus keys' if keys else ''}?"
    )
