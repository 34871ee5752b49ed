"""``extra`` keys that are frequent become typed columns of ``logs``; the rest stays JSON.

Before each chunk is loaded, the keys in its ``extra`` (but the promoted ones) are counted into
``etl_extra_keys``. A key is promoted once it was seen on at least ``promote_min_records``
records and ``promote_min_share`` of all records, and every value it ever had is of one type
(integers -> BIGINT, numbers -> DOUBLE, booleans, strings); a key with mixed types is marked
and stays JSON. Promotion adds the column ``extra_<key>`` and moves the key's values out of
``extra`` for the rows loaded before, in the chunk's transaction; the chunk then loads with it.
Values are cast to the column's type where they can be (the string "12.5" into a DOUBLE
column); a value that cannot be cast stays in ``extra``, so nothing is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from aico.config.settings import Analytics

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_JSON_TYPES = {
    "BIGINT": ("BIGINT", "UBIGINT"),
    "DOUBLE": ("DOUBLE", "BIGINT", "UBIGINT"),
    "BOOLEAN": ("BOOLEAN",),
    "VARCHAR": ("VARCHAR",),
}


@dataclass(frozen=True)
class Promoted:
    key: str
    column: str
    kind: str


def load(con: duckdb.DuckDBPyConnection) -> list[Promoted]:
    rows = con.execute("SELECT key, column_name, column_type FROM etl_columns ORDER BY column_name").fetchall()
    return [Promoted(*row) for row in rows]


@dataclass(frozen=True)
class Flattening:
    """SQL pieces for the insert, over a source with a column ``extra`` (a JSON object or NULL).

    ``extra`` is parsed once into its keys (``xk``) and once into a struct of the promoted keys,
    each cast to its column's type (``xt``; NULL where absent or not castable). The remainder is
    built from a map of the entries only for rows that keep something besides promoted keys.
    """

    inputs: str | None  # the columns ``xk`` and ``xt``, computed in an inner SELECT
    columns: list[str]  # the typed columns
    remainder: str  # ``extra`` without the entries that went into columns
    column_names: tuple[str, ...] = ()


def flattening(promoted: list[Promoted]) -> Flattening:
    if not promoted:
        return Flattening(None, [], "extra")
    shape = "{" + ", ".join(f'"{p.key}": "{p.kind}"' for p in promoted) + "}"
    moved = " + ".join(f'(xt."{p.key}" IS NOT NULL)::INTEGER' for p in promoted)
    kept = " OR ".join(f"""(e.key = '{p.key}' AND xt."{p.key}" IS NOT NULL)""" for p in promoted)
    entries = """map_entries(json_transform(extra, '"MAP(VARCHAR, JSON)"'))"""
    return Flattening(
        inputs=f"json_keys(extra) AS xk, json_transform(extra, '{shape}') AS xt",
        columns=[f'xt."{p.key}" AS "{p.column}"' for p in promoted],
        remainder=(
            f"CASE WHEN extra IS NULL THEN NULL WHEN len(xk) = {moved} THEN NULL "
            # a MAP refuses duplicate keys (no aico writer makes them): such an extra stays whole
            "WHEN len(xk) <> len(list_distinct(xk)) THEN extra "
            f"ELSE nullif(CAST(to_json(map_from_entries(list_filter({entries}, e -> NOT ({kept})))) AS VARCHAR), "
            "'{}') END"
        ),
        column_names=tuple(p.column for p in promoted),
    )


def backfill(con: duckdb.DuckDBPyConnection, new: list[Promoted]) -> None:
    """Move the new columns' values out of ``extra`` for the rows already loaded."""
    flat = flattening(new)
    moved = ", ".join(f'"{c}" = f."{c}"' for c in flat.column_names)
    con.execute(f"""
        UPDATE logs SET {moved}, extra = f.extra
        FROM (SELECT id, {', '.join(flat.columns)}, {flat.remainder} AS extra
              FROM (SELECT id, extra, {flat.inputs} FROM logs WHERE extra IS NOT NULL)) AS f
        WHERE logs.id = f.id""")


def count_keys(con: duckdb.DuckDBPyConnection, promoted: list[Promoted]) -> None:
    """Add the keys of ``extra`` in ``stage`` (but the promoted ones) to ``etl_extra_keys``."""
    done = f"WHERE k NOT IN ({', '.join(repr(p.key) for p in promoted)})" if promoted else ""
    con.execute(f"""
        INSERT INTO etl_extra_keys
        SELECT k, count(*), NULL FROM (
            SELECT unnest(TRY(json_keys(extra))) AS k FROM stage)  -- no keys: not an object, or not JSON
        {done}
        GROUP BY k
        ON CONFLICT (key) DO UPDATE SET seen = seen + excluded.seen
    """)


def _kind(types: set[str]) -> str | None:
    types = types - {"NULL"}
    for kind in ("BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR"):
        if types and types <= set(_JSON_TYPES[kind]):
            return kind
    return None


def promote(con: duckdb.DuckDBPyConnection, cfg: Analytics, records_seen: int) -> list[Promoted]:
    """Promote the keys that became frequent (moving the loaded rows' values); returns the new ones."""
    current = load(con)
    room = cfg.max_promoted_columns - len(current)
    if room <= 0 or records_seen <= 0:
        return []
    rows = con.execute(
        "SELECT key, seen FROM etl_extra_keys WHERE status IS NULL AND seen >= ? AND seen >= ? ORDER BY seen DESC, key",
        [cfg.promote_min_records, cfg.promote_min_share * records_seen],
    ).fetchall()
    if not rows:
        return []
    taken = {p.column for p in current} | {r[0].lower() for r in con.execute("DESCRIBE logs").fetchall()}
    new: list[Promoted] = []
    for key, _seen in rows:
        if len(new) >= room:
            break
        column = f"extra_{key}".lower()
        if not _SIMPLE_KEY.match(key) or column in taken:
            con.execute("UPDATE etl_extra_keys SET status = 'unnamed' WHERE key = ?", [key])
            continue
        path = f'$."{key}"'
        types = {t for (t,) in con.execute(f"""
            SELECT DISTINCT json_type(extra, '{path}') FROM (
                SELECT extra FROM logs UNION ALL SELECT extra FROM stage WHERE json_valid(extra))
            WHERE json_exists(extra, '{path}')""").fetchall()}
        kind = _kind(types)
        if kind is None:
            con.execute("UPDATE etl_extra_keys SET status = 'mixed' WHERE key = ?", [key])
            continue
        taken.add(column)
        new.append(Promoted(key, column, kind))
    # All columns first, then ONE update: DuckDB refuses to commit a second ALTER after an UPDATE.
    for p in new:
        con.execute(f'ALTER TABLE logs ADD COLUMN "{p.column}" {p.kind}')
        con.execute("INSERT INTO etl_columns VALUES (?, ?, ?)", [p.key, p.column, p.kind])
        con.execute("UPDATE etl_extra_keys SET status = 'promoted' WHERE key = ?", [p.key])
    if new:
        backfill(con, new)
    return new
