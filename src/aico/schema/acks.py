"""Acknowledgements: which sequence numbers of which producer are now safely stored."""

from __future__ import annotations

from collections.abc import Iterable

from aico.schema.wire import Ack


def ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Inclusive ranges covering ``seqs``: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    out: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1] = (out[-1][0], seq)
        else:
            out.append((seq, seq))
    return out


def ack_topic(producer_id: str) -> bytes:
    return f"acks.{producer_id}".encode()


def encode_ack(producer_id: str, seqs: Iterable[int]) -> bytes:
    spans = ranges(seqs)
    ack = Ack(producer_id=producer_id, first=[a for a, _ in spans], last=[b for _, b in spans])
    out: bytes = ack.SerializeToString()
    return out


def decode_ack(payload: bytes) -> tuple[str, list[tuple[int, int]]]:
    ack = Ack()
    ack.ParseFromString(payload)
    return ack.producer_id, list(zip(ack.first, ack.last, strict=True))
