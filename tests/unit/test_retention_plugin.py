"""Plugin ``log_retention``: runs by itself at start, daily, past the size cap, and says when disk is low."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from aico.backend import registry
from aico.config import Settings, load_settings
from aico.retention import archives
from aico.retention.clock import ManualClock
from aico.retention.plugin import RetentionPlugin
from aico.retention.policy import MIB

from retention_support import NOW, day_of, make_day, seed, seed_days
from support import wait_until

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


def configured(env: dict[str, str], **retention: Any) -> Settings:
    return load_settings(env=env, overrides={"core": {"logging": {"retention": {"check_interval_s": 0.05,
                                                                                 **retention}}}})


def plenty(_: Path) -> int:
    return 10**12


def runs(plugin: RetentionPlugin, n: int) -> dict[str, Any]:
    return wait_until(lambda: (st := plugin.status())["runs"] >= n and st, message=f"run {n}")


def test_registered_and_in_the_default_plugin_list(settings: Settings) -> None:
    """The backend knows the plugin and starts it after the consumer."""
    assert isinstance(registry.factory("log_retention")(settings), RetentionPlugin)
    plugins = settings.core.backend.plugins
    assert plugins.index("log_retention") > plugins.index("log_consumer")


def test_runs_at_start_then_at_the_daily_time(env: dict[str, str], settings: Settings) -> None:
    """A start-up run catches up; the next run waits for run_at on the clock, then the one after is a day on."""
    s = configured(env, run_at="03:30")
    seed_days(s, NOW, 10, 10)
    clock = ManualClock(NOW)
    plugin = RetentionPlugin(s, clock=clock, disk_free=plenty)
    plugin.start()
    try:
        st = runs(plugin, 1)
        assert st["last_reason"] == "startup" and st["archived_days"] == 3
        assert st["next_run_at"] == "2026-11-22T03:30:00.000000Z"
        seed(s, make_day(day_of(NOW, 8), 2, first_seq=500))
        clock.set(NOW + timedelta(hours=15, minutes=31))  # 2026-11-22 03:31
        plugin.wake()
        st = runs(plugin, 2)
        assert st["last_reason"] == "schedule" and st["last_archived"] == [day_of(NOW, 8), day_of(NOW, 6)]
        assert st["next_run_at"] == "2026-11-23T03:30:00.000000Z"
    finally:
        plugin.stop()
    assert plugin.status()["state"] == "stopped"
    assert plugin._thread is not None and not plugin._thread.is_alive()


def test_a_wall_clock_stepped_back_does_not_postpone_the_daily_run(env: dict[str, str]) -> None:
    """The clock stepped two days back after a run: the next run is at the next run_at of the clock it has
    now, not two days later (the time worked out before the step)."""
    s = configured(env, run_at="03:30")
    clock = ManualClock(NOW)
    plugin = RetentionPlugin(s, clock=clock, disk_free=plenty)
    plugin.start()
    try:
        assert runs(plugin, 1)["next_run_at"] == "2026-11-22T03:30:00.000000Z"
        clock.set(NOW - timedelta(days=2))  # 2026-11-19 12:00
        plugin.wake()
        wait_until(lambda: plugin.status()["next_run_at"] == "2026-11-20T03:30:00.000000Z",
                   message="the next run worked out again from the clock stepped back")
        clock.set(NOW - timedelta(days=2) + timedelta(hours=15, minutes=31))  # 2026-11-20 03:31
        plugin.wake()
        assert runs(plugin, 2)["last_reason"] == "schedule"
    finally:
        plugin.stop()


def test_crossing_the_size_cap_triggers_a_run(env: dict[str, str], settings: Settings) -> None:
    """Once the database grows past max_size_mb, the next check runs the job and brings it back under."""
    s = configured(env, max_size_mb=1.0, hot_days=30)
    seed_days(s, NOW, 1, 5)
    plugin = RetentionPlugin(s, clock=ManualClock(NOW), disk_free=plenty)
    plugin.start()
    try:
        runs(plugin, 1)
        seed_days(s, NOW - timedelta(days=1), 5, 800, message="long " + "y" * 400)
        plugin.wake()
        st = wait_until(lambda: (x := plugin.status())["last_reason"] == "size_cap" and x, message="size cap run")
        assert st["db_size_mb"] <= 1.0 and not st["over_cap"] and st["archived_days"] >= 1
    finally:
        plugin.stop()


def test_low_disk_shows_in_status(env: dict[str, str], settings: Settings) -> None:
    """Under the disk floor the status says "low" and the run frees space early; with room again it says "ok"."""
    s = configured(env, min_free_disk_mb=100)
    seed_days(s, NOW, 4, 5)
    free = {"bytes": 10 * MIB}

    def disk_free(_: Path) -> int:
        return free["bytes"]

    plugin = RetentionPlugin(s, clock=ManualClock(NOW), disk_free=disk_free)
    plugin.start()
    try:
        st = runs(plugin, 1)
        assert st["disk_state"] == "low" and st["disk_floor_mb"] == 100.0
        assert sorted(archives.archived_days(s)) == [] and st["last_early_deleted_archives"] == [
            day_of(NOW, 3), day_of(NOW, 2), day_of(NOW, 1)]
        free["bytes"] = 500 * MIB
        plugin.wake()
        wait_until(lambda: plugin.status()["disk_state"] == "ok", message="disk ok")
    finally:
        plugin.stop()
