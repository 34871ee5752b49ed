"""`aico keys rotate spool`: new frames sealed under a new key, spooled ones still replayed under the previous key."""

from __future__ import annotations

import json

from aico.config import Settings
from aico.logging.spool_cipher import SpoolCipher
from aico.store.repository import LogStore

from conftest import run_app
from support import Backend, run_aico


def test_a_frame_sealed_under_the_previous_key_still_opens_and_a_stranger_does_not() -> None:
    """The cipher opens under its key, then under the previous one; a frame under any other key fails."""
    old, new, other = bytes(32), bytes(range(32)), bytes([7]) * 32
    frame = SpoolCipher(old).seal([(b"logs.x", b"payload")], 1)
    items, _ = SpoolCipher(new, (old,)).walk(frame, final=True)
    assert [(i.ok, i.payload) for i in items] == [(True, b"payload")]
    assert [i.ok for i in SpoolCipher(new, (other,)).walk(frame, final=True)[0]] == [False]


def test_spooled_records_survive_a_spool_key_rotation_and_the_next_waits_for_them(
        env: dict[str, str], settings: Settings) -> None:
    """Spooled, rotated, spooled again: all replayed once; a second rotation is refused until they are delivered;
    `aico keys status` lists the previous spool key while spooled batches need it."""
    run_app(env, "--records", "50", "--name", "sp", "--flush", "0", "--marker", " [sp]")
    first = run_aico(env, "keys", "rotate", "spool")
    assert first.returncode == 0 and "previous key" in first.stderr, first.stderr
    run_app(env, "--records", "50", "--start", "50", "--name", "sp", "--flush", "0", "--marker", " [sp]")
    refused = run_aico(env, "keys", "rotate", "spool")
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "previous spool key" in refused.stderr
    listed = json.loads(run_aico(env, "keys", "status", "--json").stdout)
    assert [r["spooled"] > 0 for r in listed if r["key"] == "spool (previous)"] == [True]
    assert "spooled batches need it" in run_aico(env, "keys", "status").stdout
    with Backend(env, "--plugins", "message_bus,log_consumer"):
        assert run_app(env, "--records", "0", "--name", "sp", "--flush", "60")[-1]["flushed"] is True
        with LogStore.open(settings) as store:
            rows = store.conn.execute("SELECT count(*), count(DISTINCT json_extract(extra, '$.i')) FROM logs "
                                      "WHERE message LIKE '%[sp]'").fetchall()
        assert rows == [(100, 100)]
    listed = json.loads(run_aico(env, "keys", "status", "--json").stdout)
    assert [r for r in listed if r["key"] == "spool (previous)"] == []
    again = run_aico(env, "keys", "rotate", "spool")
    assert again.returncode == 0, again.stderr
