"""Telling a read from a write before a person's SQL reaches the store.

Only one statement, starting with SELECT or WITH, is let through; the connection it runs on is
query-only besides, so a write hidden in a WITH is refused by SQLite itself.
"""

from __future__ import annotations

import re

from aico.errors import ReadOnlyQueryError

# String literals, quoted names, comments, or any run of other characters: a ';' is only seen
# where it really ends a statement.
_LEXEME = re.compile(
    r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|\[[^\]]*\]?|`[^`]*`?|--[^\n]*|/\*.*?(?:\*/|\Z)|;|[^'"\[`;/-]+|.""", re.S
)
_COMMENT_OR_SPACE = re.compile(r"(?:\s+|--[^\n]*|/\*.*?(?:\*/|\Z))*", re.S)


def check(sql: str) -> str:
    """Raise ``ReadOnlyQueryError`` unless ``sql`` is a single SELECT (or WITH ... SELECT);
    returns the statement without a trailing ``;`` (and what follows it: space, comments)."""
    start = _COMMENT_OR_SPACE.match(sql)
    body = sql[start.end() if start else 0:]
    first = re.match(r"[A-Za-z]+", body)
    if first is None or first.group(0).upper() not in ("SELECT", "WITH"):
        word = first.group(0).upper() if first else body[:20] or "nothing"
        raise ReadOnlyQueryError(f"refused: only SELECT (or WITH ... SELECT) is allowed here, not {word!r}")
    lexemes = _LEXEME.findall(body)
    if ";" in lexemes:
        rest = "".join(lexemes[lexemes.index(";") + 1:])
        if _COMMENT_OR_SPACE.fullmatch(rest) is None:
            raise ReadOnlyQueryError("refused: one statement at a time")
        return "".join(lexemes[:lexemes.index(";")])
    return body
