"""Normalise, flatten and enrich a staged window in SQL, and insert it into ``logs``.

The window arrives parsed and scrubbed (an Arrow table of ``EXPORT_COLUMNS``, text as stored,
dropped columns NULL and ids pseudonymised: ``scrub.apply``), registered as the view ``stage``;
one ``INSERT ... SELECT`` types, flattens and loads it:

- ``ts`` a UTC ``TIMESTAMPTZ``, ``day`` its calendar day, ``level_no`` and ``severity_bucket``
  from the level, ``line``/``seq`` integers;
- ``error_details`` -> ``error_type``, ``error_message``, ``error_stack`` and ``stack_hash``:
  a hash of the type and the stack with numbers and addresses blanked and the message taken
  out, so it stays the same when only line numbers, memory addresses or values change;
- promoted ``extra`` keys -> typed columns (``extra`` parsed once, see ``extras``); the rest
  stays JSON in ``extra``.

Rows with an unreadable timestamp or an unknown level are left out (and counted as invalid).
"""

from __future__ import annotations

import duckdb

from aico.analytics.extras import Flattening

LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
SEVERITY_BUCKETS = {"DEBUG": "low", "INFO": "low", "WARNING": "medium", "ERROR": "high", "CRITICAL": "critical"}


def _case(column: str, mapping: dict[str, int] | dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN {v if isinstance(v, int) else repr(v)}" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


# Stack text with the message taken out and numbers/addresses blanked: what identifies the error.
_STACK_SHAPE = r"""
regexp_replace(regexp_replace(
    CASE WHEN coalesce(e_stack, '') <> ''
         THEN CASE WHEN coalesce(e_message, '') <> '' THEN replace(e_stack, e_message, '') ELSE e_stack END
         ELSE coalesce(e_message, '') END,
    '0x[0-9a-fA-F]+', '0x', 'g'), '\b\d+\b', 'N', 'g')
"""
STACK_HASH = (
    "CASE WHEN e_type IS NOT NULL OR e_message IS NOT NULL OR e_stack IS NOT NULL "
    f"THEN left(sha256(coalesce(e_type, '') || chr(10) || {_STACK_SHAPE}), 16) END"
)


def flatten_select(flat: Flattening) -> str:
    """The ``SELECT`` turning ``stage`` into rows of ``logs`` (valid rows only)."""
    columns = [
        "id", "ts", "CAST(left(ts_text, 10) AS DATE) AS day", "level",
        f"{_case('level', LEVEL_NUMBERS)} AS level_no",
        f"{_case('level', SEVERITY_BUCKETS)} AS severity_bucket",
        "subsystem", "module", "function", "file", "TRY_CAST(line AS INTEGER) AS line", "topic", "message",
        "user_id", "trace_id", "session_id",
        "e_type AS error_type", "e_message AS error_message", "e_stack AS error_stack", f"{STACK_HASH} AS stack_hash",
        "severity", "origin", "environment", "producer_id", "seq",
        *(f'"{c}"' for c in flat.column_names),
        f"{flat.remainder} AS extra",
    ]
    typed = f", {', '.join(flat.columns)}" if flat.columns else ""
    inputs = f", {flat.inputs}" if flat.inputs else ""
    return f"""
        SELECT {', '.join(columns)}
        FROM (
            SELECT * EXCLUDE (err), err[1] AS e_type, err[2] AS e_message, err[3] AS e_stack{typed}
            FROM (
                SELECT *, json_extract_string(ed, ['$.type', '$.message', '$.stack']) AS err{inputs}
                FROM (
                    SELECT * EXCLUDE (timestamp, error_details, extra),
                        timestamp AS ts_text, TRY_CAST(timestamp AS TIMESTAMPTZ) AS ts,
                        CASE WHEN TRY(json_type(error_details)) = 'OBJECT' THEN error_details END AS ed,
                        CASE WHEN TRY(json_type(extra)) = 'OBJECT' THEN extra END AS extra  -- NULL: not JSON
                    FROM stage
                )
            )
        )
        WHERE ts IS NOT NULL AND level IN ({', '.join(f"'{k}'" for k in LEVEL_NUMBERS)})
    """


def insert(con: duckdb.DuckDBPyConnection, flat: Flattening) -> int:
    """Insert the valid rows of ``stage`` into ``logs``; returns how many went in."""
    inserted = con.execute(f"INSERT INTO logs BY NAME {flatten_select(flat)}").fetchall()
    return int(inserted[0][0])
