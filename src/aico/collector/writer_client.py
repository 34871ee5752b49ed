"""The collector's side of the store writer process: start it, feed it, read its answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import zmq

from aico.backend.child import Child
from aico.bus import sockets
from aico.config.settings import Settings
from aico.errors import BackendError, StoreError
from aico.store.writer import Reject

READY_TIMEOUT_S = 60


@dataclass(frozen=True)
class WriterReply:
    batch_id: bytes
    stored: int = 0
    duplicates: int = 0
    error: str | None = None
    pruned: int = 0


class WriterClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.child: Child | None = None
        self.sock: zmq.Socket[bytes] = sockets.context().socket(zmq.PAIR)
        self.sock.setsockopt(zmq.LINGER, 0)
        # A private folder (mode 0700) keeps other users off the channel, and its path short:
        # a Unix socket path must fit in about 100 bytes, which a deep AICO_HOME may not.
        self._dir = tempfile.mkdtemp(prefix="aico-w-")
        self.endpoint = f"ipc://{self._dir}/writer.sock"
        try:
            self.sock.bind(self.endpoint)
        except zmq.ZMQError as exc:
            self.sock.close()
            raise BackendError(f"cannot open the writer channel {self.endpoint}: {exc.strerror}") from exc
        self._spawn()

    def _spawn(self) -> None:
        self.child = Child.python("aico.collector.writer", self.endpoint, label="writer",
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.child.feed(self.settings.model_dump_json().encode(), close=True)
        if not self.child.wait_ready(lambda seconds: bool(self.sock.poll(int(seconds * 1000))), READY_TIMEOUT_S):
            code = self.child.kill()
            raise BackendError("the store writer did not start" + (f" (exit code {code})" if code else ""))
        kind, text = self.sock.recv_multipart()
        if kind != b"S" or text != b"ready":
            self.child.wait(10)
            raise StoreError(text.decode("utf-8", "replace"))

    def restart(self) -> None:
        if self.child is not None:
            self.child.kill()
        self._spawn()

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def send_rows(self, batch_id: bytes, rows_json: bytes, count: int) -> None:
        self._send([b"B", batch_id, rows_json, str(count).encode()])

    def send_rejects(self, batch_id: bytes, rejects: list[Reject]) -> None:
        frames = [b"J", batch_id]
        for r in rejects:
            frames += [r.topic or b"", r.prefix, r.reason.encode(), str(r.size).encode(), r.sha256.encode()]
        self._send(frames)

    def _send(self, frames: list[bytes]) -> None:
        """Send to the writer, never blocking on a dead one: a PAIR socket whose peer is gone blocks a send
        for ever (a SIGKILLed writer hung the collector). Unsent, the batch stays with the caller, which
        hands it to the next writer."""
        while True:
            try:
                self.sock.send_multipart(frames, zmq.NOBLOCK)
                return
            except zmq.Again:
                if not self.alive():
                    return
                self.sock.poll(100, zmq.POLLOUT)

    def replies(self) -> Iterator[WriterReply]:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frames[0] == b"R":
                figures = json.loads(frames[2])
                yield WriterReply(frames[1], figures["stored"], figures["duplicates"], pruned=figures.get("pruned", 0))
            elif frames[0] == b"E":
                yield WriterReply(frames[1], error=frames[2].decode("utf-8", "replace"))

    def close(self, timeout: float = 60) -> None:
        """Ask the writer to finish, wait for it, release the channel."""
        if self.child is not None:
            self.child.stop(timeout, ask=self._ask_quit)
        self.sock.close(linger=0)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _ask_quit(self) -> None:
        try:
            self.sock.send_multipart([b"Q"], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass
