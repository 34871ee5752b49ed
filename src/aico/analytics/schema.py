"""The tables of the analytics database.

    logs                    the flattened, scrubbed records (one row per source record)
    errors_by_module_day    per day and module: records, warnings, errors, criticals
    records_by_level_hour   per hour and level: records
    error_types_by_day      per day, error type and stack hash: occurrences, first and last seen
    etl_state               one row: the watermark (last source id done) and this file's id
    etl_dirty_days          days whose rollups must be recomputed (written with the rows)
    etl_extra_keys          how often each ``extra`` key was seen (and whether it was promoted)
    etl_columns             ``extra`` keys promoted to typed columns of ``logs``
    etl_runs                one row per finished run, with its counts
"""

from __future__ import annotations

import uuid

import duckdb

from aico.analytics.connection import transaction

SCHEMA_VERSION = 1

LOGS_COLUMNS = """
    id BIGINT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    day DATE NOT NULL,
    level VARCHAR NOT NULL,
    level_no TINYINT NOT NULL,
    severity_bucket VARCHAR NOT NULL,
    subsystem VARCHAR,
    module VARCHAR,
    function VARCHAR,
    file VARCHAR,
    line INTEGER,
    topic VARCHAR,
    message VARCHAR,
    user_id VARCHAR,
    trace_id VARCHAR,
    session_id VARCHAR,
    error_type VARCHAR,
    error_message VARCHAR,
    error_stack VARCHAR,
    stack_hash VARCHAR,
    severity VARCHAR,
    origin VARCHAR,
    environment VARCHAR,
    producer_id VARCHAR,
    seq BIGINT,
    extra JSON
"""

ROLLUPS: dict[str, str] = {
    "errors_by_module_day": """
        day DATE NOT NULL, subsystem VARCHAR, module VARCHAR, records BIGINT NOT NULL,
        warnings BIGINT NOT NULL, errors BIGINT NOT NULL, criticals BIGINT NOT NULL
    """,
    "records_by_level_hour": """
        day DATE NOT NULL, hour TIMESTAMPTZ NOT NULL, level VARCHAR NOT NULL, records BIGINT NOT NULL
    """,
    "error_types_by_day": """
        day DATE NOT NULL, error_type VARCHAR, stack_hash VARCHAR NOT NULL, occurrences BIGINT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL, last_seen TIMESTAMPTZ NOT NULL, module VARCHAR, sample_message VARCHAR
    """,
}

STATE_TABLES: dict[str, str] = {
    "etl_state": """
        instance_id VARCHAR NOT NULL, schema_version INTEGER NOT NULL, watermark BIGINT NOT NULL,
        records_seen BIGINT NOT NULL, updated_at TIMESTAMPTZ
    """,
    "etl_dirty_days": "day DATE PRIMARY KEY",
    "etl_extra_keys": "key VARCHAR PRIMARY KEY, seen BIGINT NOT NULL, status VARCHAR",
    "etl_columns": "key VARCHAR PRIMARY KEY, column_name VARCHAR NOT NULL UNIQUE, column_type VARCHAR NOT NULL",
    "etl_runs": """
        started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL, mode VARCHAR NOT NULL,
        watermark_from BIGINT NOT NULL, watermark_to BIGINT NOT NULL, scanned BIGINT NOT NULL,
        loaded BIGINT NOT NULL, filtered BIGINT NOT NULL, pruned BIGINT NOT NULL, scrubbed JSON,
        seconds DOUBLE NOT NULL
    """,
}


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create what is missing (a new file gets everything, and its own instance id)."""
    with transaction(con):
        con.execute(f"CREATE TABLE IF NOT EXISTS logs ({LOGS_COLUMNS})")
        for name, columns in {**ROLLUPS, **STATE_TABLES}.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        if not con.execute("SELECT count(*) FROM etl_state").fetchall()[0][0]:
            con.execute("INSERT INTO etl_state VALUES (?, ?, 0, 0, NULL)", [uuid.uuid4().hex, SCHEMA_VERSION])


def reset(con: duckdb.DuckDBPyConnection) -> None:
    """Empty everything for a full rebuild (in the caller's transaction); the instance id stays."""
    con.execute("DROP TABLE logs")
    con.execute(f"CREATE TABLE logs ({LOGS_COLUMNS})")
    for name in (*ROLLUPS, "etl_dirty_days", "etl_extra_keys", "etl_columns"):
        con.execute(f"DELETE FROM {name}")
    con.execute("UPDATE etl_state SET watermark = 0, records_seen = 0, updated_at = now()")
