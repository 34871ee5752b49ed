"""The writer's memory of the ``names`` and ``ids`` dictionaries (``layout``): text -> reference.

A batch's strings become references in Python, before the batch reaches SQL: a lookup here
costs a dict access, where a subquery per string and row cost the writer about as much again
as the insert itself (``bench/query.py`` build). A reference never changes once given (nothing
renames or deletes a dictionary entry), so what is remembered stays true, with one exception:
entries added in a transaction that rolls back. The writer calls ``forget`` then.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from typing import Any

import orjson

from aico.schema.record import COLUMNS
from aico.store.edge import Connection
from aico.store.layout import DICTIONARY

# table -> the positions of its columns in a row of COLUMNS
_POSITIONS = {table: tuple(i for i, c in enumerate(COLUMNS) if DICTIONARY.get(c) == table)
              for table in ("names", "ids")}


def _text(value: Any) -> str:
    # The column held TEXT before: SQLite stored a number given for a name as its text, as this does.
    return value if isinstance(value, str) else str(value)


# the positions of the names in a row of layout.FIELDS (the id first; ids come as text)
_FIELD_POSITIONS = {"names": tuple(i + 1 for i in _POSITIONS["names"])}


class Texts:
    """The reader's side: references of names back to their texts, fetched once per connection and kept."""

    def __init__(self) -> None:
        self.known: dict[str, dict[int, str]] = {table: {} for table in _FIELD_POSITIONS}

    def decode(self, conn: Connection, rows: Sequence[MutableSequence[Any]]) -> None:
        """Replace, in place, the names' references of ``rows`` (values in ``layout.FIELDS`` order) by their texts."""
        for table, positions in _FIELD_POSITIONS.items():
            known = self.known[table]
            missing = {v for row in rows for i in positions if (v := row[i]) is not None and v not in known}
            if missing:
                wanted = orjson.dumps(sorted(missing)).decode()
                found = conn.execute(f"SELECT json_group_array(json_array(id, text)) FROM {table} "
                                     "WHERE id IN (SELECT value FROM json_each(?))", (wanted,)).fetchall()
                known.update((ref, text) for ref, text in orjson.loads(found[0][0]))
            for row in rows:
                for i in positions:
                    v = row[i]
                    if v is not None:
                        row[i] = known.get(v)


class Dictionary:
    """References of the texts this connection has seen or written."""

    def __init__(self) -> None:
        self.known: dict[str, dict[str, int]] = {table: {} for table in _POSITIONS}

    def forget(self) -> None:
        for known in self.known.values():
            known.clear()

    def encode(self, conn: Connection, rows: Sequence[MutableSequence[Any]]) -> None:
        """Replace, in place, the dictionary columns' texts of ``rows`` (values in ``COLUMNS``
        order) by their references, adding the new texts. Inside the caller's transaction."""
        for table, positions in _POSITIONS.items():
            known = self.known[table]
            missing = {_text(v) for row in rows for i in positions if (v := row[i]) is not None
                       and _text(v) not in known}
            if missing:
                self._learn(conn, table, missing)
            for row in rows:
                for i in positions:
                    v = row[i]
                    if v is not None:
                        row[i] = known[_text(v)]

    def _learn(self, conn: Connection, table: str, texts: set[str]) -> None:
        # JSON carries the texts both ways: libSQL's binding cuts a bound or read text at a NUL.
        wanted = orjson.dumps(sorted(texts)).decode()
        conn.execute(f"INSERT OR IGNORE INTO {table}(text) SELECT value FROM json_each(?)", (wanted,))
        rows = conn.execute(f"SELECT json_group_array(json_array(id, text)) FROM {table} "
                            "WHERE text IN (SELECT value FROM json_each(?))", (wanted,)).fetchall()
        self.known[table].update((text, ref) for ref, text in orjson.loads(rows[0][0]))
