"""The rekey request channel (keyset/online.py): a fresh request is taken once, a leftover never runs."""

from __future__ import annotations

import json
import time

from aico.config import Settings
from aico.keyset import online


def test_a_fresh_request_is_taken_once_and_an_expired_one_is_dropped(settings: Settings) -> None:
    """A request within its deadline gives its id and is gone; one past it is removed without being run."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = online.request_path(settings)
    path.write_text(json.dumps({"id": "abc", "until": time.time() + 60}))
    assert online.take_request(settings) == "abc"
    assert online.take_request(settings) is None and not path.exists()
    path.write_text(json.dumps({"id": "old", "until": time.time() - 1}))
    assert online.take_request(settings) is None and not path.exists()


def test_the_readers_marker_counts_only_while_its_writer_lives(settings: Settings) -> None:
    """The marker is up inside the block, down after it; one left by a dead process does not count."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with online.readers_asked_away(settings):
        assert online.rekey_active(settings)
    assert not online.rekey_active(settings)
    online.active_path(settings).write_text(json.dumps({"pid": 2**22 + 12345}))
    assert not online.rekey_active(settings)
