"""The encrypted store: key handling, migrations, batch writes, duplicates, rejects.

Records carry fixed timestamps on purpose: nothing here reads the clock (``make test-clock`` proves it).
"""

from __future__ import annotations

import os
import stat

import pytest

from aico.collector.writer import store_rows
from aico.config import Settings
from aico.errors import EncryptionKeyError, StoreError
from aico.schema import normalize
from aico.schema.record import to_row
from aico.store import InsertResult, LogStore
from aico.store.edge import transaction
from aico.store.filters import LogFilter
from aico.store.migrations import MIGRATIONS
from aico.store.writer import INSERT_BATCH_SQL, encode_rows


def record(i: int, **over: object) -> dict:
    base = {"timestamp": f"2026-11-21T04:00:{i % 60:02d}Z", "level": "INFO", "module": "m", "function": "f",
            "topic": "t", "message": f"secret message number {i}", "producer_id": "p1", "seq": i + 1}
    return normalize({**base, **over})


def test_first_start_makes_a_private_key_and_an_encrypted_file(settings: Settings) -> None:
    """The writer makes a 256-bit key (mode 0600) and the file holds no plain text."""
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([record(i) for i in range(100)])
    key_file = settings.keys_dir / "db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(bytes.fromhex(key_file.read_text().strip())) == 32
    files = [p for p in settings.database_path.parent.iterdir() if p.name.startswith("aico.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert b"secret message" not in raw
    assert b"SQLite format 3" not in raw[:16]


def test_wrong_key_is_an_encryption_key_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening with another key fails with EncryptionKeyError, not a libSQL ValueError."""
    LogStore.open(settings, writer=True).close()
    monkeypatch.setenv("AICO_DB_KEY", "0" * 64)
    with pytest.raises(EncryptionKeyError, match="wrong encryption key"):
        LogStore.open(settings)


def test_missing_key_for_existing_store_is_never_replaced(settings: Settings) -> None:
    """If the key is gone, the store is not silently re-keyed: it is an error."""
    LogStore.open(settings, writer=True).close()
    os.remove(settings.keys_dir / "db.key")
    with pytest.raises(EncryptionKeyError, match="no db key found"):
        LogStore.open(settings, writer=True)


def test_reader_on_missing_store_says_so(settings: Settings) -> None:
    """A reader on a home with no store gets a StoreError naming the path."""
    with pytest.raises(StoreError, match="no log store"):
        LogStore.open(settings)


def test_migrations_are_recorded_once(settings: Settings) -> None:
    """Migrations are applied once and recorded in the database."""
    LogStore.open(settings, writer=True).close()
    with LogStore.open(settings, writer=True) as store:
        assert store.info()["migrations"] == [name for name, _ in MIGRATIONS]


def test_duplicates_of_producer_and_seq_are_skipped(settings: Settings) -> None:
    """(producer_id, seq) is stored once, however often it arrives."""
    with LogStore.open(settings, writer=True) as store:
        first = store.insert_batch([record(i) for i in range(10)])
        again = store.insert_batch([record(i) for i in range(5, 15)])
        assert (first.stored, first.duplicates) == (10, 0)
        assert (again.stored, again.duplicates) == (5, 5)
        assert store.count() == 15


def test_search_is_newest_first_and_filters_levels(settings: Settings) -> None:
    """`search` with a limit returns the newest N, newest first, and honours levels."""
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch([record(i, level="ERROR" if i % 2 else "INFO") for i in range(10)])
        rows = list(store.search(LogFilter(limit=3)))
        assert [r["seq"] for r in rows] == [10, 9, 8]
        assert {r["level"] for r in store.search(LogFilter(levels=("ERROR",), limit=50))} == {"ERROR"}


def test_reader_cannot_write(settings: Settings) -> None:
    """Reader connections are query-only."""
    LogStore.open(settings, writer=True).close()
    with LogStore.open(settings) as store, pytest.raises(StoreError):
        store.insert_batch([record(1)])


def test_single_write_mode_stores_the_same_as_a_batch(settings: Settings) -> None:
    """The benchmark baseline (one transaction per record) stores and counts duplicates as a batch does."""
    rows = encode_rows([to_row(record(i)) for i in (0, 1, 2, 1)])
    with LogStore.open(settings, writer=True) as store:
        result = store_rows(store, rows, 4, single=True)
        assert (result.stored, result.duplicates) == (3, 1)
        assert store_rows(store, rows, 4, single=False) == InsertResult(0, 4)
        assert [r["seq"] for r in store.search(LogFilter(), ascending=True)] == [1, 2, 3]


def test_a_failed_transaction_rolls_back_and_says_what_it_was_doing(settings: Settings) -> None:
    """``transaction`` undoes the block's writes and turns libSQL's error into a StoreError naming the work."""
    with LogStore.open(settings, writer=True) as store:
        failing = transaction(store.conn, "cannot do the thing")
        with pytest.raises(StoreError, match=r"^cannot do the thing: ") as caught, failing as c:
            c.execute(INSERT_BATCH_SQL, (encode_rows([to_row(record(1))]).decode(),))
            c.execute("INSERT INTO no_such_table VALUES (1)")
        assert isinstance(caught.value.__cause__, ValueError)
        assert not store.conn.in_transaction and store.count() == 0
        store.insert_batch([record(1)])
        assert store.count() == 1
