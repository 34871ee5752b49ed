"""An allow-list authorizer for a person's SQL: what a statement may call and read.

The libSQL binding has no ``set_authorizer``, so the statement's compiled program is read
instead (``EXPLAIN``): that is what SQLite would run, after every view, CTE and alias is
resolved, so no spelling hides a call. A statement is let through only when

- every function it calls is on ``FUNCTIONS`` (plain SQL functions: text, numbers, dates,
  JSON, aggregates, window functions, FTS5's ``highlight``/``snippet``/``bm25``), so
  ``readfile``, ``writefile``, ``load_extension``, the cipher's ``sqlite3mc_*`` and the like
  are refused however they are reached;
- every table or index it opens is one of ``TABLES`` (and their indexes) in the main database;
- every virtual table it opens is ``logs_fts`` or ``json_each``/``json_tree`` (so ``fsdir``,
  ``sqlite_dbpage``, ``dbstat``, ``pragma_*`` ... are refused);
- no instruction of it writes or changes the schema (the connection is query-only besides).
"""

from __future__ import annotations

from collections.abc import Iterable

from aico.errors import ReadOnlyQueryError
from aico.store.connection import Connection

TABLES = ("logs", "log_rows", "names", "ids", "logs_fts", "rejects")

_FUNCTION_NAMES = """
    abs avg ceil ceiling char coalesce concat concat_ws count cume_dist current_date current_time
    current_timestamp date datetime dense_rank first_value floor format glob group_concat hex ifnull iif
    instr json json_array json_array_length json_error_position json_extract json_group_array
    json_group_object json_insert json_object json_patch json_quote json_remove json_replace json_set
    json_type json_valid julianday lag last_value lead length like likelihood likely lower ltrim max
    median min nth_value ntile nullif octet_length percent_rank printf quote random rank replace round
    row_number rtrim sign string_agg strftime substr substring sum time timediff total trim typeof unhex
    unicode unixepoch unlikely upper zeroblob randomblob regexp regexpi
    acos acosh asin asinh atan atan2 atanh cos cosh degrees exp ln log log10 mod pi pow power radians
    sin sinh sqrt tan tanh trunc
    highlight snippet bm25 match -> ->>
"""
FUNCTIONS = frozenset(_FUNCTION_NAMES.split())

# Instructions that write a database or change its schema: never part of a read. (Insert and
# Delete also fill a query's own scratch tables: a real table is only written through OpenWrite.)
_WRITES = frozenset({
    "OpenWrite", "VUpdate", "Destroy", "Clear", "CreateBtree",
    "ParseSchema", "DropTable", "DropIndex", "DropTrigger", "Vacuum", "IncrVacuum", "JournalMode", "VBegin",
    "VCreate", "VDestroy", "VRename", "SqlExec", "Expire", "TableLock", "SetCookie", "MaxPgcnt", "Checkpoint",
    "LoadAnalysis", "Program",
})
_CALLS = frozenset({"Function", "PureFunc", "Function0", "PureFunc0", "AggStep", "AggStep1", "AggFinal",
                    "AggValue", "AggInverse"})
_OPENS = frozenset({"OpenRead", "ReopenIdx"})
# Programs that open exactly the virtual tables allowed: their vtab handles are learned from these.
_ALLOWED_VTABS_SQL = ("SELECT rowid FROM logs_fts", "SELECT * FROM json_each('[]')", "SELECT * FROM json_tree('[]')")


def _program(conn: Connection, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
    return list(conn.execute("EXPLAIN " + sql, list(params)).fetchall())


def _allowed_pages(conn: Connection) -> set[int]:
    placeholders = ", ".join("?" for _ in TABLES)
    rows = conn.execute(
        f"SELECT rootpage FROM sqlite_schema WHERE rootpage > 0 AND (tbl_name IN ({placeholders}) "
        f"OR tbl_name LIKE 'logs\\_fts\\_%' ESCAPE '\\')", list(TABLES)).fetchall()
    return {1} | {int(r[0]) for r in rows}  # page 1: sqlite_schema, the tables' definitions


def _allowed_vtabs(conn: Connection) -> set[str]:
    handles: set[str] = set()
    for sql in _ALLOWED_VTABS_SQL:
        handles |= {str(op[5]) for op in _program(conn, sql) if op[1] == "VOpen"}
    return handles


def authorize(conn: Connection, sql: str, params: Iterable[object] = ()) -> None:
    """Raise ``ReadOnlyQueryError`` unless ``sql`` only calls, reads and opens what is allowed.

    ``sql`` must compile: a statement SQLite rejects raises the libSQL ``ValueError`` as is.
    """
    program = _program(conn, sql, params)
    pages: set[int] | None = None
    vtabs: set[str] | None = None
    for op in program:
        opcode, p2, p3, p4 = str(op[1]), op[3], op[4], op[5]
        if opcode in _WRITES or (opcode == "Transaction" and p2 != 0):
            raise ReadOnlyQueryError(f"refused: the statement would write ({opcode}); only reads are allowed")
        if opcode in _CALLS:
            name = str(p4).rsplit("(", 1)[0]
            if name.lower() not in FUNCTIONS:
                raise ReadOnlyQueryError(f"refused: function {name}() is not allowed in `aico logs sql`")
        elif opcode in _OPENS:
            if pages is None:
                pages = _allowed_pages(conn)
            if p3 != 0 or not isinstance(p2, int) or p2 not in pages:
                raise ReadOnlyQueryError(
                    f"refused: only the tables {', '.join(TABLES)} can be read here")
        elif opcode == "VOpen":
            if vtabs is None:
                vtabs = _allowed_vtabs(conn)
            if str(p4) not in vtabs:
                raise ReadOnlyQueryError(
                    "refused: only the tables logs, logs_fts, rejects and json_each/json_tree can be read here")
