"""The status file is written on a change, not on a timer, and a backend is told alive by the lock
it holds for its life, not by how fresh the file is."""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import UTC, datetime, timedelta

from aico.backend.container import Container
from aico.backend.status import hold_running_lock, lock_path, read_status, status_path, write_status
from aico.config import Settings
from aico.schema.timestamps import format_utc


def status(**over: object) -> dict:
    return {"state": "running", "pid": os.getpid(), "updated_epoch": time.time() - 3600, "plugins": {}, **over}


def test_an_old_status_file_is_running_while_the_lock_is_held(settings: Settings) -> None:
    """An hour-old status file says running while the backend's lock is held (nothing rewrote it)."""
    fd = hold_running_lock(settings)
    assert fd is not None
    try:
        write_status(settings, status())
        current = read_status(settings)
        assert current is not None and current["running"] is True
    finally:
        os.close(fd)


def test_a_fresh_status_file_without_its_lock_held_is_not_running(settings: Settings) -> None:
    """A lock file nobody holds means the backend is gone, however fresh its last status."""
    fd = hold_running_lock(settings)
    assert fd is not None
    os.close(fd)  # the process "ended": the kernel dropped the lock
    write_status(settings, status(updated_epoch=time.time()))
    current = read_status(settings)
    assert current is not None and current["running"] is False


def test_a_status_file_of_an_older_version_is_judged_by_its_age(settings: Settings) -> None:
    """Without a lock file (an older backend wrote it), a fresh file is running and an old one is not."""
    write_status(settings, status(updated_epoch=time.time()))
    assert not lock_path(settings).exists()
    assert read_status(settings)["running"] is True  # type: ignore[index]
    write_status(settings, status())
    assert read_status(settings)["running"] is False  # type: ignore[index]


def test_a_second_holder_does_not_take_the_lock(settings: Settings) -> None:
    """While one backend holds the lock another gets None (and the first still shows as running)."""
    fd = hold_running_lock(settings)
    assert fd is not None
    try:
        assert hold_running_lock(settings) is None
        probe = os.open(lock_path(settings), os.O_RDONLY)
        try:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
                held = False
            except OSError:
                held = True
        finally:
            os.close(probe)
        assert held
    finally:
        os.close(fd)


def test_a_countdown_is_counted_from_its_time_when_read(settings: Settings) -> None:
    """next_run_in_s is recomputed from next_run_at on reading, not shown as it was when written."""
    at = format_utc(datetime.now(UTC) + timedelta(seconds=600))
    write_status(settings, status(updated_epoch=time.time(), plugins={
        "log_analytics": {"state": "running", "next_run_in_s": 3600.0, "next_run_at": at}}))
    shown = read_status(settings)["plugins"]["log_analytics"]["next_run_in_s"]  # type: ignore[index]
    assert 0 < shown <= 600


def test_the_container_writes_its_status_only_when_a_figure_changes(settings: Settings) -> None:
    """A second write with nothing changed is skipped; a changed state is written."""
    container = Container(settings, plugins=[])
    container.state = "running"
    assert container.write_status(only_if_changed=True) is True
    first = status_path(settings).read_text()
    assert container.write_status(only_if_changed=True) is False
    assert status_path(settings).read_text() == first
    container.state = "stopping"
    assert container.write_status(only_if_changed=True) is True
    assert json.loads(status_path(settings).read_text())["state"] == "stopping"
