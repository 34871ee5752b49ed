"""Stamps: what identifies each record on the wire and which acknowledgements are this producer's.

``OwnStamps`` (the default) does nothing special: records get this producer's id and their
spool seq as they go out, and an acknowledgement names them directly.

``RelayStamps``: which original (producer id, seq) each spooled record of a relaying producer carries.

A relaying producer (the frontend bridge) sends records stamped by the producer that made
them, so the collector acknowledges them under those stamps. This map turns such an
acknowledgement back into the relaying producer's own spool sequence numbers. The same
stamp may be in flight under several own seqs (a client sent a record again before the
first copy was stored): one acknowledgement releases them all.

A record that comes with no stamp of its own (a plain HTTP post, the producer's own drop
notice) is stamped with the relay's id and a run id of this process under the prefix and, as
its seq, the microsecond clock read once per batch and counted on from there (never
backwards), before it is spooled: kept by every resend, and unique even when the wall clock
is stepped back across a restart (the run id differs; the store keeps one copy per stamp, so a
stamp used again would drop a new record as a duplicate).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence

from aico.schema import wire
from aico.schema.record import Record

Item = tuple[int, bytes, bytes]  # (spool seq, topic, encoded record)


class OwnStamps:
    """The default: this producer stamps its records itself; nothing to map back."""

    keeps_stamps = False  # records are encoded without a stamp; ``frames`` adds this producer's

    def __init__(self, producer_id: str) -> None:
        self.producer_id = producer_id
        self.acks_for = producer_id
        self._stamp = wire.producer_stamp_prefix(producer_id)

    def stamp(self, records: list[Record], relay_id: str) -> list[Record]:
        return records

    def frames(self, chunk: Sequence[Item]) -> list[bytes]:
        stamp, seq_field = self._stamp, wire.seq_field
        return [payload + stamp + seq_field(seq) for seq, _, payload in chunk]

    def track(self, chunk: Sequence[Item]) -> None:
        return

    def forget(self, own_seq: int) -> None:
        return

    def own_spans(self, producer_id: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
        """The spans of own seqs an acknowledgement releases; None if it names another producer."""
        return spans if producer_id == self.producer_id else None


class RelayStamps:
    keeps_stamps = True  # relayed records travel with the stamp they came with

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.acks_for = prefix
        self._own: dict[tuple[str, int], list[int]] = {}  # original stamp -> own seqs in flight
        self._stamp: dict[int, tuple[str, int]] = {}  # own seq -> original stamp
        self._last_clock_seq = 0
        self.run = uuid.uuid4().hex[:12]  # this process's: the clock may repeat across runs

    def stamp(self, records: list[Record], relay_id: str) -> list[Record]:
        """``records``, each kept as it is if it carries a stamp under the prefix, else stamped by
        the relay (in place: records offered to a producer are its own).

        One clock reading serves the whole list: its unstamped records get consecutive seqs,
        so their acknowledgement is one range, not one per record.
        """
        own = f"{self.prefix}{relay_id}.{self.run}"
        seq = max(self._last_clock_seq + 1, time.time_ns() // 1000)
        prefix = self.prefix
        for record in records:
            pid, theirs = record.get("producer_id"), record.get("seq")
            if isinstance(pid, str) and pid.startswith(prefix) and isinstance(theirs, int) and theirs > 0:
                continue
            record["producer_id"], record["seq"] = own, seq
            self._last_clock_seq = seq
            seq += 1
        return records

    def frames(self, chunk: Sequence[Item]) -> list[bytes]:
        return [payload for _, _, payload in chunk]

    def track(self, chunk: Sequence[Item]) -> None:
        """Remember the stamp inside each payload (a ``LogEntry``), sent under its spool seq."""
        for own_seq, _, payload in chunk:
            if own_seq in self._stamp:
                continue
            entry = wire.LogEntry.FromString(payload)
            stamp = (entry.producer_id, entry.seq)
            self._stamp[own_seq] = stamp
            self._own.setdefault(stamp, []).append(own_seq)

    def forget(self, own_seq: int) -> None:
        stamp = self._stamp.pop(own_seq, None)
        if stamp is None:
            return
        seqs = self._own.get(stamp, [])
        if own_seq in seqs:
            seqs.remove(own_seq)
        if not seqs:
            self._own.pop(stamp, None)

    def acked(self, producer_id: str, spans: Iterable[tuple[int, int]]) -> list[int]:
        """The own seqs an acknowledgement of ``producer_id``'s ``spans`` releases (none if not ours)."""
        if not producer_id.startswith(self.prefix):
            return []
        out: list[int] = []
        for first, last in spans:
            for seq in range(first, last + 1):
                for own in self._own.pop((producer_id, seq), ()):
                    self._stamp.pop(own, None)
                    out.append(own)
        return out

    def own_spans(self, producer_id: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
        """The own seqs an acknowledgement releases, as spans; None if it is not under the prefix."""
        if not producer_id.startswith(self.prefix):
            return None
        return [(seq, seq) for seq in self.acked(producer_id, spans)]

    def __len__(self) -> int:
        return len(self._stamp)
