"""The rekey gate and the database key rotation around it: opens wait and read the current key, holders let go."""

from __future__ import annotations

import threading

import pytest

from aico.config import Settings
from aico.dashboard.readers import StorePool
from aico.errors import EncryptionKeyError, StoreError
from aico.keyset import rotation
from aico.keyset.keeping import put_key
from aico.schema import normalize
from aico.store import LogStore, rekey_gate
from aico.store.connection import open_database

from support import stamp, wait_until


def make_store(settings: Settings, records: int = 5) -> None:
    """A store holding ``records`` records, its writer closed."""
    rows = [normalize({"timestamp": stamp(), "level": "INFO", "module": "m", "function": "f", "topic": "t",
                       "message": f"m{i}", "producer_id": "p", "seq": i + 1}) for i in range(records)]
    with LogStore.open(settings, writer=True) as store:
        store.insert_batch(rows)


def key_of(settings: Settings, name: str = "db") -> str | None:
    path = settings.keys_dir / f"{name}.key"
    return path.read_text().strip() if path.exists() else None


def test_pending_is_true_only_while_a_rotation_holds_the_gate(settings: Settings) -> None:
    """A holder sees a rotation waiting; before and after, nothing."""
    make_store(settings)
    path = settings.database_path
    assert not rekey_gate.pending(path)
    with rekey_gate.rotating(path, 1.0):
        assert rekey_gate.pending(path)
    assert not rekey_gate.pending(path)
    assert oct(rekey_gate.lock_path(path).stat().st_mode & 0o777) == "0o600"


def test_an_open_during_a_rotation_waits_for_it_and_reads_the_key_it_left(settings: Settings) -> None:
    """The key changes while an open waits at the gate: the open uses the new one, never the old."""
    make_store(settings)
    path = settings.database_path
    opened: list[int] = []
    with rekey_gate.rotating(path, 1.0):
        reader = threading.Thread(target=lambda: opened.append(LogStore.open(settings).count()))
        reader.start()
        reader.join(0.3)
        assert reader.is_alive() and not opened  # waiting at the gate
        new = "c" * 64
        conn = open_database(path, key_of(settings) or "")  # a rekey as the rotation makes it
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"PRAGMA rekey='{new}'")
        conn.close()
        put_key(settings, "db", new, "file")
    reader.join(30)
    assert opened == [5]


def test_a_second_rotation_gives_up_after_its_wait(settings: Settings) -> None:
    """While one rotation holds the gate another says so after its wait, and leaves no db.next."""
    make_store(settings)
    with rekey_gate.rotating(settings.database_path, 1.0), pytest.raises(StoreError, match="another key rotation"):
        rotation.rotate_db(settings, wait_s=0.2)
    assert key_of(settings, "db.next") is None


def test_a_connection_kept_open_makes_the_rotation_give_up_under_the_old_key(settings: Settings) -> None:
    """A connection that is not given back within the wait: StoreError in words, db.next forgotten, old key kept."""
    make_store(settings)
    old = key_of(settings)
    with LogStore.open(settings) as held:
        with pytest.raises(StoreError, match="old key still opens it"):
            rotation.rotate_db(settings, wait_s=0.3)
        assert held.count() == 5
    assert key_of(settings) == old and key_of(settings, "db.next") is None


def test_after_a_rotation_cut_short_opens_use_db_next_and_a_writer_settles_the_keys(settings: Settings) -> None:
    """Store re-keyed, db still old, db.next new (a kill between the two): a reader opens it without
    changing the keys; the writer's open makes db the new key and forgets db.next."""
    make_store(settings)
    new = "d" * 64
    put_key(settings, "db.next", new, "file")
    conn = LogStore.open(settings, writer=True).conn
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute(f"PRAGMA rekey='{new}'")
    conn.close()
    with LogStore.open(settings) as store:
        assert store.count() == 5
    assert key_of(settings, "db.next") == new and key_of(settings) != new
    LogStore.open(settings, writer=True).close()
    assert key_of(settings) == new and key_of(settings, "db.next") is None


def test_a_wrong_key_with_no_rotation_behind_it_is_still_an_encryption_key_error(settings: Settings) -> None:
    """No db.next to try: the error stays the wrong-key error (exit 3 in the CLI)."""
    make_store(settings)
    put_key(settings, "db", "e" * 64, "file")
    with pytest.raises(EncryptionKeyError):
        LogStore.open(settings)


def test_the_dashboard_pool_lets_go_of_idle_connections_for_a_rotation_and_reopens_with_the_new_key(
        settings: Settings) -> None:
    """The pool's idle connections are closed within IDLE_RELEASE_S, so a rotation with the pool live
    succeeds; the next request opens with the new key."""
    make_store(settings)
    pool = StorePool(settings)
    try:
        with pool.store() as store:
            assert store.count() == 5
        rotation.rotate_db(settings, wait_s=rekey_gate.IDLE_RELEASE_S + 30)
        with pool.store() as store:
            assert store.count() == 5
    finally:
        pool.close()


def test_the_dashboard_pool_closes_connections_left_idle(settings: Settings) -> None:
    """A quiet pool holds nothing open once IDLE_RELEASE_S have passed."""
    make_store(settings)
    pool = StorePool(settings)
    try:
        with pool.store() as a, pool.store() as b:
            assert a.count() == b.count() == 5
        assert pool._opened == 2
        wait_until(lambda: pool._opened == 0, timeout=rekey_gate.IDLE_RELEASE_S + 30, message="idle closed")
    finally:
        pool.close()
