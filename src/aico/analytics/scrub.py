"""Scrub the staged chunk: DuckDB finds the rows that may hold private data, Python fixes them.

The scrubber's pre-checks are RE2-compatible, so DuckDB evaluates them over the whole chunk
(in parallel, in C++); only the rows they select cross into Python, with a bit per detector
saying which detectors to run on the message. Text they do not select is never changed by the
scrubber, so skipping it changes nothing. Columns to pseudonymise are hashed in SQL by the
insert (``transform``); they are counted here.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from aico.analytics.transform import pseudonymized_columns
from aico.privacy import Scrubber
from aico.privacy.scrubber import JSON_ESCAPES

_SCRUBBED = ("message", "extra", "error_details")


def _lit(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def _plain(column: str) -> str:
    """The JSON text with each escape made a space, as ``Scrubber.scrub_json`` pre-checks it."""
    return (f"CASE WHEN contains({column}, '\\') "
            f"THEN regexp_replace({column}, {_lit(JSON_ESCAPES)}, ' ', 'g') ELSE {column} END")


def scrub_stage(con: duckdb.DuckDBPyConnection, scrubber: Scrubber) -> int:
    """Scrub ``stage`` in place; returns the number of rows that crossed into Python."""
    text, json_pre = _lit(scrubber.text_precheck), _lit(scrubber.json_precheck)
    flags = " + ".join(
        f"(CASE WHEN regexp_matches(message, {_lit(q)}) THEN {1 << i} ELSE 0 END)"
        for i, q in enumerate(scrubber.quick_patterns)
    ) or "0"
    candidates = con.execute(f"""
        SELECT id, message, extra, error_details, CASE WHEN m THEN {flags} ELSE 0 END AS flags,
            x, CASE WHEN x THEN regexp_matches(px, {text}) END AS x_text,
            e, CASE WHEN e THEN regexp_matches(pe, {text}) END AS e_text
        FROM (SELECT id, message, extra, error_details, px, pe,
                     coalesce(regexp_matches(message, {text}), false) AS m,
                     coalesce(regexp_matches(px, {json_pre}), false) AS x,
                     coalesce(regexp_matches(pe, {json_pre}), false) AS e
              FROM (SELECT *, {_plain("extra")} AS px, {_plain("error_details")} AS pe FROM stage))
        WHERE m OR x OR e
    """).fetchall()
    changed: dict[str, list[object]] = {"id": [], **{c: [] for c in _SCRUBBED}}
    for row_id, message, extra, error_details, bits, in_extra, x_text, in_error, e_text in candidates:
        new = (
            scrubber.scrub_text_flagged(message, bits) if bits else message,
            scrubber.scrub_json(extra, scan=x_text) if in_extra else extra,
            scrubber.scrub_json(error_details, scan=e_text) if in_error else error_details,
        )
        if new != (message, extra, error_details):
            changed["id"].append(row_id)
            for name, value in zip(_SCRUBBED, new, strict=True):
                changed[name].append(value)
    if changed["id"]:
        con.register("scrubbed", pa.table({
            "id": pa.array(changed["id"], pa.int64()),
            **{c: pa.array(changed[c], pa.string()) for c in _SCRUBBED},
        }))
        try:
            con.execute("UPDATE stage SET message = s.message, extra = s.extra, error_details = s.error_details "
                        "FROM scrubbed AS s WHERE stage.id = s.id")
        finally:
            con.unregister("scrubbed")
    for column in pseudonymized_columns(scrubber):
        scrubber.counts["pseudonymized"] += con.execute(f"SELECT count({column}) FROM stage").fetchall()[0][0]
    return len(candidates)
