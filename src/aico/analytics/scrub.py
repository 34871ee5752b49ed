"""Scrub a parsed window: DuckDB finds the rows that may hold private data, Python fixes them.

Two halves, one in each process of the ETL (see ``source``):

- ``precheck_select`` (reader process): the scrubber's pre-checks are RE2-compatible, so
  DuckDB evaluates them in the query that parses the window, in C++, as flag columns;
- ``apply`` (ETL process, before anything is loaded): only the rows the flags select cross
  into Python, with a bit per detector saying which detectors to run on the message. Text they
  do not select is never changed by the scrubber, so skipping it changes nothing. The fixed
  values go back into the Arrow columns in one vectorised step; columns the rules drop become
  NULL, and columns to pseudonymise get their keyed hash, computed once per distinct value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from aico.privacy import Scrubber
from aico.privacy.scrubber import JSON_ESCAPES

SCRUBBED = ("message", "extra", "error_details")
#: The pre-check results ``precheck_select`` adds and ``apply`` consumes (and drops).
FLAGS = ("_flags", "_x", "_x_text", "_e", "_e_text")
#: The record columns the privacy rules can drop, and (text ones) pseudonymise.
RULED = ("subsystem", "module", "function", "file", "line", "topic", "message", "user_id", "trace_id",
         "session_id", "severity", "origin", "environment", "producer_id", "seq")
_NOT_TEXT = ("line", "seq")


@dataclass(frozen=True)
class Prechecks:
    """A scrubber's RE2-compatible pre-checks (all the reader process needs: no key, no rules)."""

    text: str
    json: str
    quick: tuple[str, ...]

    @classmethod
    def of(cls, scrubber: Scrubber) -> Prechecks:
        return cls(scrubber.text_precheck, scrubber.json_precheck, scrubber.quick_patterns)


def _lit(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def _plain(column: str) -> str:
    """The JSON text with each escape made a space, as ``Scrubber.scrub_json`` pre-checks it."""
    return (f"CASE WHEN contains({column}, '\\') "
            f"THEN regexp_replace({column}, {_lit(JSON_ESCAPES)}, ' ', 'g') ELSE {column} END")


def precheck_select(checks: Prechecks, source: str) -> str:
    """A ``SELECT`` of every column of ``source`` plus the pre-check results (``FLAGS``).

    ``_flags``: a bit per detector whose pre-check matches the message (0: the message is
    clean); ``_x``/``_e``: ``extra``/``error_details`` match the JSON pre-check, and
    ``_x_text``/``_e_text`` whether their strings need the detectors (else only names matched).
    """
    text, json_pre = _lit(checks.text), _lit(checks.json)
    bits = " + ".join(
        f"(CASE WHEN regexp_matches(message, {_lit(q)}) THEN {1 << i} ELSE 0 END)" for i, q in enumerate(checks.quick)
    ) or "0"
    return f"""
        SELECT * EXCLUDE (_m, _x, _e, _px, _pe), CASE WHEN _m THEN {bits} ELSE 0 END AS _flags,
            _x, CASE WHEN _x THEN regexp_matches(_px, {text}) END AS _x_text,
            _e, CASE WHEN _e THEN regexp_matches(_pe, {text}) END AS _e_text
        FROM (SELECT *, coalesce(regexp_matches(message, {text}), false) AS _m,
                        coalesce(regexp_matches(_px, {json_pre}), false) AS _x,
                        coalesce(regexp_matches(_pe, {json_pre}), false) AS _e
              FROM (SELECT *, {_plain("extra")} AS _px, {_plain("error_details")} AS _pe FROM {source}))
    """


def apply(table: pa.Table, scrubber: Scrubber) -> tuple[pa.Table, int]:
    """``table`` (with ``FLAGS``) scrubbed, without the flags; also the number of rows Python looked at."""
    mask = pc.or_(pc.or_(pc.not_equal(table["_flags"], 0), table["_x"]), table["_e"]).combine_chunks()
    picked = table.select([*SCRUBBED, *FLAGS]).take(pc.indices_nonzero(mask))
    out = table.drop_columns(list(FLAGS))
    fixed: dict[str, list[str | None]] = {c: [] for c in SCRUBBED}
    changed = set[str]()
    columns = [picked[c].to_pylist() for c in (*SCRUBBED, *FLAGS)]
    for message, extra, error_details, bits, in_extra, x_text, in_error, e_text in zip(*columns, strict=True):
        new = (
            scrubber.scrub_text_flagged(message, bits) if bits else message,
            scrubber.scrub_json(extra, scan=x_text) if in_extra else extra,
            scrubber.scrub_json(error_details, scan=e_text) if in_error else error_details,
        )
        for name, old, value in zip(SCRUBBED, (message, extra, error_details), new, strict=True):
            fixed[name].append(value)
            if value != old:
                changed.add(name)
    for name in changed:
        column = out[name].combine_chunks()
        out = _replace(out, name, pc.replace_with_mask(column, mask, pa.array(fixed[name], column.type)))
    return _by_rule(out, scrubber), len(picked)


def _replace(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _by_rule(table: pa.Table, scrubber: Scrubber) -> pa.Table:
    """Dropped columns made NULL, pseudonymised ones hashed (each distinct value once), both counted."""
    rules = scrubber.rules
    for name in RULED:
        column = table[name]
        present = len(column) - column.null_count
        if not present:
            continue
        if rules.is_dropped(name):
            table = _replace(table, name, pa.nulls(len(column), column.type))
            scrubber.counts["dropped_field"] += present
        elif rules.is_pseudonymized(name) and name not in _NOT_TEXT:
            distinct = pc.unique(column).drop_null()
            hashed = pa.array([scrubber.pseudonym(v) for v in distinct.to_pylist()], column.type)
            table = _replace(table, name, pc.take(hashed, pc.index_in(column, value_set=distinct)))
            scrubber.counts["pseudonymized"] += present
    return table
