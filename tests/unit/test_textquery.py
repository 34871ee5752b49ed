"""The full-text query language: parsing, precedence, FTS5 text, and the Python evaluator."""

from __future__ import annotations

import pytest

from aico.errors import QueryError
from aico.store.textquery import parse_text_query, tokens


def test_tokens_fold_case_and_diacritics_and_split_punctuation() -> None:
    """Words are split like unicode61: lower case, no diacritics, punctuation and _ separate."""
    assert tokens("Café user-42 FAILED: snake_case") == ["cafe", "user", "42", "failed", "snake", "case"]


@pytest.mark.parametrize(("query", "message", "expected"), [
    ("timeout", "Request TIMEOUT after 30s", True),
    ("timeout", "timeouts everywhere", False),
    ("time*", "timeouts everywhere", True),
    ('"connection reset"', "the connection was reset", False),
    ('"connection reset"', "connection reset by peer", True),
    ('"conn res"*', "connection reset", False),
    ('"connection res"*', "connection reset", True),
    ("timeout retry", "retry after timeout", True),
    ("timeout AND retry", "timeout only", False),
    ("timeout OR refused", "connection refused", True),
    ("timeout NOT retry", "timeout, will retry", False),
    ("timeout NOT retry", "timeout, giving up", True),
    ("a OR b c", "a", True),  # AND binds tighter than OR: a OR (b AND c)
    ("(a OR b) c", "a", False),
    ("user-42", "login by user 42 ok", True),
    ("user-42", "login by user 43 ok", False),
    ("café", "CAFE opened", True),
    ("and", "this and that", True),  # lower-case operators are words, as in FTS5
])
def test_matches(query: str, message: str, expected: bool) -> None:
    """The Python evaluator follows FTS5's meaning of words, phrases, prefixes and operators."""
    assert parse_text_query(query).matches(message) is expected


def test_fts5_text_quotes_every_phrase() -> None:
    """Punctuation never reaches FTS5 as syntax: each phrase is quoted, operators parenthesised."""
    q = parse_text_query('user-42 OR "say ""hi""" NOT conn*')
    assert q.to_fts5() == '("user-42" OR ("say ""hi""" NOT "conn"*))'


@pytest.mark.parametrize(("query", "why"), [
    ("", "nothing to search for"),
    ("NOT timeout", "NOT needs a term on its left"),
    ("timeout AND", "a term is missing at the end"),
    ("(timeout", "missing '\\)'"),
    ("timeout)", "unexpected '\\)'"),
    ("--", "has no words to search for"),
])
def test_bad_queries_name_the_option(query: str, why: str) -> None:
    """A query that cannot be read is a QueryError naming the option and the reason."""
    with pytest.raises(QueryError, match=rf"^--query: .*{why}"):
        parse_text_query(query, "--query")
