"""Full-text queries over messages: one parser, two evaluators (FTS5 in the store, Python elsewhere).

The language is FTS5's, kept to what people type: words (``timeout``), phrases in double quotes
(``"connection reset"``), prefixes (``conn*``), ``AND`` (also implied between terms), ``OR``,
``NOT`` and parentheses. Operators are upper case, as in FTS5. A word holding punctuation
(``user-42``, ``a.b:c``) is searched as the phrase of its words, never read as FTS5 syntax, so no
query a user types reaches FTS5 as a syntax error. ``to_fts5`` gives the MATCH text; ``matches``
evaluates the same query over a message in Python (for archives, which have no index), tokenising
like FTS5's ``unicode61`` tokenizer (case folded, diacritics removed, split on non-alphanumerics).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from aico.errors import QueryError

_WORD = re.compile(r"[^\W_]+")
_LEXEME = re.compile(r'\s*(?:(?P<quote>"(?:[^"]|"")*"?\*?)|(?P<paren>[()])|(?P<bare>[^\s()"]+))')


def tokens(text: str) -> list[str]:
    """The words of ``text`` as ``unicode61`` sees them: folded, without diacritics."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(stripped.lower())


@dataclass(frozen=True)
class Phrase:
    """Words in a row; FTS5 gets the text as typed, quoted, so it tokenises it like the index."""

    text: str
    words: tuple[str, ...]
    prefix: bool = False

    def fts5(self) -> str:
        # FTS5 reads its query as a C string: a NUL would end it mid-phrase ("unterminated string").
        # NUL separates words for the tokenizer anyway, so a space means the same.
        return '"' + self.text.replace('"', '""').replace("\0", " ") + '"' + ("*" if self.prefix else "")

    def found_in(self, words: list[str]) -> bool:
        n = len(self.words)
        last = n - 1
        for start in range(len(words) - n + 1):
            for i, want in enumerate(self.words):
                got = words[start + i]
                if not (got == want or (self.prefix and i == last and got.startswith(want))):
                    break
            else:
                return True
        return False


@dataclass(frozen=True)
class Op:
    name: str  # AND, OR, NOT (binary: left AND NOT right)
    left: Node
    right: Node

    def fts5(self) -> str:
        return f"({self.left.fts5()} {self.name} {self.right.fts5()})"

    def found_in(self, words: list[str]) -> bool:
        if self.name == "AND":
            return self.left.found_in(words) and self.right.found_in(words)
        if self.name == "OR":
            return self.left.found_in(words) or self.right.found_in(words)
        return self.left.found_in(words) and not self.right.found_in(words)


Node = Phrase | Op
OPERATORS = ("AND", "OR", "NOT")


class _Parser:
    """Precedence as in FTS5: NOT binds tightest, then AND (or juxtaposition), then OR."""

    def __init__(self, query: str, option: str) -> None:
        self.query = query
        self.option = option
        self.items = self._lex(query)
        self.pos = 0

    def _fail(self, why: str) -> QueryError:
        return QueryError(f"{self.option}: {why} in {self.query!r}")

    def _lex(self, query: str) -> list[tuple[str, str]]:
        items, pos = [], 0
        while pos < len(query):
            m = _LEXEME.match(query, pos)
            if m is None or m.end() == pos:
                break
            pos = m.end()
            kind = m.lastgroup
            if kind is not None:
                items.append((kind, m.group(kind)))
        return items

    def _peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def parse(self) -> Node:
        if not self.items:
            raise self._fail("nothing to search for")
        node = self._or()
        if self._peek() is not None:
            raise self._fail(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return node

    def _chain(self, word: str, operand: Callable[[], Node]) -> Node:
        """``operand (word operand)*``, grouped from the left."""
        node = operand()
        while self._peek() == ("bare", word):
            self.pos += 1
            node = Op(word, node, operand())
        return node

    def _or(self) -> Node:
        return self._chain("OR", self._and)

    def _and(self) -> Node:
        node = self._not()
        while (item := self._peek()) is not None and item != ("bare", "OR") and item != ("paren", ")"):
            if item == ("bare", "AND"):
                self.pos += 1
            node = Op("AND", node, self._not())
        return node

    def _not(self) -> Node:
        return self._chain("NOT", self._primary)

    def _primary(self) -> Node:
        item = self._peek()
        if item is None:
            raise self._fail("a term is missing at the end")
        kind, text = item
        self.pos += 1
        if kind == "paren":
            if text == ")":
                raise self._fail("unexpected ')'")
            self.depth = getattr(self, "depth", 0) + 1
            if self.depth > MAX_PARENS:
                raise self._fail(f"parentheses nested deeper than {MAX_PARENS}")
            node = self._or()
            if self._peek() != ("paren", ")"):
                raise self._fail("missing ')'")
            self.pos += 1
            self.depth -= 1
            return node
        if kind == "bare" and text in OPERATORS:
            raise self._fail(f"{text} needs a term on its left" if text != "NOT" else "NOT needs a term on its left"
                             " (write: timeout NOT retry)")
        prefix = text.endswith("*")
        body = text.rstrip("*")
        if kind == "quote":
            if not (body.endswith('"') and len(body) > 1):
                raise self._fail(f"unterminated quote {text!r} (close it with \")")
            body = body[1:-1].replace('""', '"')
        words = tokens(body)
        if not words:
            raise self._fail(f"{text!r} has no words to search for")
        return Phrase(body, tuple(words), prefix)


MAX_PARENS = 64


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A parsed full-text query."""

    text: str
    root: Node

    def to_fts5(self) -> str:
        return self.root.fts5()

    def matches(self, message: str | None) -> bool:
        return self.root.found_in(tokens(message or ""))


@lru_cache(maxsize=64)
def parse_text_query(text: str, option: str = "QUERY") -> TextQuery:
    """Parse ``text``; a ``QueryError`` naming ``option`` says what is wrong with it."""
    return TextQuery(text, _Parser(text, option).parse())
