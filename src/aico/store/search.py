"""Searching the store page by page (keyset paging), for the reader to run.

Every page is its own short statement that starts after the last row of the page before, so
a search of any size holds no read transaction open and needs memory for one page only.

Order: by time (``timestamp``, then ``id``) unless the search is by id (a follower) or holds a
full-text query. Full-text results come in id order, which is arrival order: FTS5 walks its index
by rowid, so the newest page of a common word and of a rare one are both found at once, where
ordering the matches by timestamp would have to collect and sort all of them first. Arrival
order is time order except for records that arrived late (a spooled backlog, a slow frontend).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from aico.store.filters import LogFilter, where_sql
from aico.store.layout import SOURCE, stored_row

# One JSON array per row: libSQL's binding cuts a TEXT value at a NUL byte, JSON escapes it
# (``wholetext``), and one text column decoded by orjson is faster than 20 columns besides.
SELECT_LIST = stored_row("logs")  # names and ids as references: the reader decodes them
Run = Callable[[str, list[Any]], list[dict[str, Any]]]
Cursor = tuple[str, int] | int | None


def page_sql(flt: LogFilter, *, ascending: bool, by_id: bool, after: Cursor, size: int,
             columns: str = SELECT_LIST) -> tuple[str, list[Any]]:
    """One page of ``flt`` after ``after`` (the cursor of the last row of the page before)."""
    text = flt.text_query is not None
    id_col = "logs_fts.rowid" if text else "logs.id"
    conds, params = where_sql(flt, text=False, id_column=id_col)
    direction = "ASC" if ascending else "DESC"
    cmp = ">" if ascending else "<"
    if text or by_id:
        if after is not None:
            conds.append(f"{id_col} {cmp} ?")
            params.append(after)
        order = f"{id_col} {direction}"
    else:
        if after is not None:
            stamp, last_id = after  # type: ignore[misc]
            # The first term lets the timestamp index start at the cursor; the second breaks ties.
            conds.append(f"logs.timestamp {cmp}= ? AND (logs.timestamp {cmp} ? OR logs.id {cmp} ?)")
            params.extend([stamp, stamp, last_id])
        order = f"logs.timestamp {direction}, logs.id {direction}"
    if text:
        assert flt.text_query is not None
        # CROSS JOIN keeps the FTS5 table outside, so its rowid order serves the ORDER BY.
        source = f"logs_fts CROSS JOIN {SOURCE} ON logs.id = logs_fts.rowid"
        conds.insert(0, "logs_fts MATCH ?")
        params.insert(0, flt.text_query.to_fts5())
    else:
        source = SOURCE
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    return f"SELECT {columns} FROM {source} {where} ORDER BY {order} LIMIT ?", [*params, size]



def cursor_of(row: dict[str, Any], flt: LogFilter, *, by_id: bool = False) -> Cursor:
    """Where a search that stopped at ``row`` goes on (``paged``'s ``start``): its id, or (time, id)."""
    return row["id"] if by_id or flt.text_query is not None else (row["timestamp"], row["id"])


def paged(run: Run, flt: LogFilter, *, ascending: bool = False, by_id: bool = False,
          page: int = 1000, start: Cursor = None) -> Iterator[dict[str, Any]]:
    """The records of ``flt`` in order, ``grep`` applied here, stopping after ``flt.limit``.

    ``start`` (from ``cursor_of``) resumes after the last row a caller saw: the next page of a list.
    """
    remaining = flt.limit
    if remaining == 0:
        return
    regex = flt.regex
    after: Cursor = start
    keyed_by_id = by_id or flt.text_query is not None
    while True:
        size = page if regex is not None or remaining is None else min(page, remaining)
        rows = run(*page_sql(flt, ascending=ascending, by_id=by_id, after=after, size=size))
        for row in rows:
            if regex is not None and not regex.search(row.get("message") or ""):
                continue
            yield row
            if remaining is not None:
                remaining -= 1
                if remaining == 0:
                    return
        if len(rows) < size:
            return
        last = rows[-1]
        after = last["id"] if keyed_by_id else (last["timestamp"], last["id"])
