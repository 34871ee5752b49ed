"""The ``log_analytics`` plugin inside a real backend process."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aico.config import Settings

import etl_data
from support import Backend, run_aico, wait_until

pytestmark = pytest.mark.clock  # run again with the clock a year off (make test-clock)


@pytest.fixture(autouse=True)
def one_duckdb_thread(env: dict[str, str]) -> None:
    """DuckDB on one thread in these tests: the data is small, and the suite shares two cores."""
    env["AICO_CORE__ANALYTICS__THREADS"] = "1"


@pytest.mark.e2e
def test_backend_runs_the_etl_on_schedule(env: dict[str, str], settings: Settings) -> None:
    """A backend started with the default plugins runs the ETL (first run right away here) and reports it."""
    raws = etl_data.raw_records(80)
    etl_data.store_records(settings, raws)
    env.update({"AICO_CORE__ANALYTICS__FIRST_RUN_DELAY_S": "0"})

    def last_run() -> dict[str, Any] | None:
        status = json.loads(run_aico(env, "gateway", "status", "--json").stdout)
        return (status.get("plugins") or {}).get("log_analytics", {}).get("last_run")

    with Backend(env):
        run = wait_until(last_run, timeout=60, message="the first scheduled ETL run")
        assert run["exit_code"] == 0 and run["loaded"] == len(etl_data.kept(raws)), run
    query = run_aico(env, "analytics", "query", "SELECT count(*) AS n FROM logs", "-o", "json")
    assert json.loads(query.stdout) == [{"n": len(etl_data.kept(raws))}]
