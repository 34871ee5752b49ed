"""Normalise, flatten and enrich a staged chunk in SQL, and insert it into ``logs``.

The chunk arrives as JSON array texts (``aico.store.export.EXPORT_COLUMNS``) in an Arrow
table (``source.Window``); DuckDB parses them into the temp table ``stage`` (text as stored), the scrubber edits it
in place, and one ``INSERT ... SELECT`` types, flattens and loads it:

- ``ts`` a UTC ``TIMESTAMPTZ``, ``day`` its calendar day, ``level_no`` and ``severity_bucket``
  from the level, ``line``/``seq`` integers;
- ``error_details`` -> ``error_type``, ``error_message``, ``error_stack`` and ``stack_hash``:
  a hash of the type and the stack with numbers and addresses blanked and the message taken
  out, so it stays the same when only line numbers, memory addresses or values change;
- pseudonymised columns (``user_id``) -> HMAC-SHA256 computed in SQL, equal to
  ``Scrubber.pseudonymize``; dropped columns -> NULL;
- promoted ``extra`` keys -> typed columns (``extra`` parsed once, see ``extras``); the rest
  stays JSON in ``extra``.

Rows with an unreadable timestamp or an unknown level are left out (and counted as invalid).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from aico.analytics.extras import Flattening
from aico.privacy import Scrubber
from aico.privacy.scrubber import PSEUDONYM_CHARS
from aico.store.export import EXPORT_COLUMNS

_INT_COLUMNS = {"id": "BIGINT", "line": "BIGINT", "seq": "BIGINT"}
LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
SEVERITY_BUCKETS = {"DEBUG": "low", "INFO": "low", "WARNING": "medium", "ERROR": "high", "CRITICAL": "critical"}
_PLAIN = ("subsystem", "module", "function", "file", "topic", "message", "user_id", "trace_id", "session_id",
          "severity", "origin", "environment", "producer_id")


def _case(column: str, mapping: dict[str, int] | dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN {v if isinstance(v, int) else repr(v)}" for k, v in mapping.items())
    return f"CASE {column} {whens} END"


def pseudonymized_columns(scrubber: Scrubber) -> list[str]:
    rules = scrubber.rules
    return [c for c in _PLAIN if rules.is_pseudonymized(c) and not rules.is_dropped(c)]


def stage(con: duckdb.DuckDBPyConnection, source: pa.Table) -> int:
    """Parse the JSON row texts (column ``j``) into the temp table ``stage``; returns the number of rows."""
    fields = ", ".join(
        f"TRY_CAST(r[{i + 1}] AS {_INT_COLUMNS[c]}) AS {c}" if c in _INT_COLUMNS else f"r[{i + 1}] AS {c}"
        for i, c in enumerate(EXPORT_COLUMNS)
    )
    con.register("chunk_source", source)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stage AS SELECT {fields} "
            "FROM (SELECT from_json(j, '[\"VARCHAR\"]') AS r FROM chunk_source)"
        )
    finally:
        con.unregister("chunk_source")
    return source.num_rows


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


def _pseudonym(column: str) -> str:
    """HMAC-SHA256 (RFC 2104) in SQL, with the padded keys bound as ``$ipad``/``$opad``."""
    return f"left(sha256($opad || unhex(sha256($ipad || encode({column})))), {PSEUDONYM_CHARS})"


def flatten_select(scrubber: Scrubber, flat: Flattening) -> str:
    """The ``SELECT`` turning ``stage`` into rows of ``logs`` (valid rows only)."""
    rules = scrubber.rules

    def col(name: str, expr: str | None = None) -> str:
        if rules.is_dropped(name):
            return f"NULL AS {name}"
        if rules.is_pseudonymized(name) and name in _PLAIN:
            return f"{_pseudonym(name)} AS {name}"
        return f"{expr or name} AS {name}"

    columns = [
        "id", "ts", "CAST(left(ts_text, 10) AS DATE) AS day", "level",
        f"{_case('level', LEVEL_NUMBERS)} AS level_no",
        f"{_case('level', SEVERITY_BUCKETS)} AS severity_bucket",
        *(col(c) for c in ("subsystem", "module", "function", "file")),
        col("line", "TRY_CAST(line AS INTEGER)"), col("topic"), col("message"),
        *(col(c) for c in ("user_id", "trace_id", "session_id")),
        "e_type AS error_type", "e_message AS error_message", "e_stack AS error_stack", f"{STACK_HASH} AS stack_hash",
        *(col(c) for c in ("severity", "origin", "environment", "producer_id", "seq")),
        *(f'"{c}"' for c in flat.column_names),
        f"{flat.remainder} AS extra",
    ]
    typed = f", {', '.join(flat.columns)}" if flat.columns else ""
    inputs = f", {flat.inputs}" if flat.inputs else ""
    return f"""
        SELECT {', '.join(columns)}
        FROM (
            SELECT *{typed}
            FROM (
                SELECT *,
                    json_extract_string(ed, '$.type') AS e_type,
                    json_extract_string(ed, '$.message') AS e_message,
                    json_extract_string(ed, '$.stack') AS e_stack{inputs}
                FROM (
                    SELECT * EXCLUDE (timestamp, error_details, extra),
                        timestamp AS ts_text, TRY_CAST(timestamp AS TIMESTAMPTZ) AS ts,
                        CASE WHEN json_valid(error_details) AND json_type(error_details) = 'OBJECT'
                             THEN error_details END AS ed,
                        CASE WHEN json_valid(extra) AND json_type(extra) = 'OBJECT' THEN extra END AS extra
                    FROM stage
                )
            )
        )
        WHERE ts IS NOT NULL AND level IN ({', '.join(f"'{k}'" for k in LEVEL_NUMBERS)})
    """


def insert(con: duckdb.DuckDBPyConnection, scrubber: Scrubber, flat: Flattening) -> int:
    """Insert the valid rows of ``stage`` into ``logs``; returns how many went in."""
    ipad, opad = scrubber.hmac_pads()
    sql = flatten_select(scrubber, flat)
    params = {"ipad": ipad, "opad": opad} if "$ipad" in sql else {}
    inserted = con.execute(f"INSERT INTO logs BY NAME {sql}", params).fetchall()
    return int(inserted[0][0])
