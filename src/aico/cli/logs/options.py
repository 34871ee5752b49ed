"""The filter options every ``aico logs`` command shares, declared once.

``@filter_options(...)`` appends the options to a command's signature (Typer reads signatures)
and hands the command a ready ``LogFilter`` as ``flt`` and the ``--utc`` flag as ``utc``; a bad
value is a ``QueryError`` naming the option (one line, exit status 2).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer

from aico.errors import QueryError
from aico.schema.timeexpr import parse_time
from aico.store.filters import LogFilter, parse_levels
from aico.store.textquery import parse_text_query

PANEL = "Filters"
QUERY_HELP = ('Full-text search of messages: words, "a phrase", prefix*, AND, OR, NOT, '
              "parentheses (operators in upper case).")


def _option(*names: str, help: str, metavar: str | None = None) -> Any:
    return typer.Option(*names, help=help, metavar=metavar, rich_help_panel=PANEL, show_default=False)


_OptStr = str | None
FILTER_PARAMS: dict[str, Any] = {
    "level": Annotated[_OptStr, _option(
        "--level", "-p", metavar="LEVEL",
        help="A threshold (warning = WARNING and above), a list (debug,error) or a range (info..error).")],
    "subsystem": Annotated[_OptStr, _option("--subsystem", metavar="NAME", help="Subsystem prefix, or glob (*, ?).")],
    "module": Annotated[_OptStr, _option("--module", "-m", metavar="NAME", help="Module prefix, or glob.")],
    "topic": Annotated[_OptStr, _option("--topic", "-t", metavar="NAME", help="Topic prefix, or glob.")],
    "function": Annotated[_OptStr, _option("--function", metavar="NAME", help="Function name, or glob.")],
    "file": Annotated[_OptStr, _option("--file", metavar="PATH",
                                       help="Source file: the path, its tail (repository.py), or a glob.")],
    "trace_id": Annotated[_OptStr, _option("--trace-id", metavar="ID", help="Records of this trace.")],
    "session_id": Annotated[_OptStr, _option("--session-id", metavar="ID", help="Records of this session.")],
    "user_id": Annotated[_OptStr, _option("--user-id", metavar="ID", help="Records of this user.")],
    "origin": Annotated[_OptStr, _option("--origin", metavar="ORIGIN", help="frontend, backend, ...")],
    "since": Annotated[_OptStr, _option(
        "--since", "-S", metavar="TIME",
        help="From this time: 30s, 15m, 2h, 3d, 1w (ago), ISO-8601, today, yesterday.")],
    "until": Annotated[_OptStr, _option("--until", "-U", metavar="TIME", help="Before this time (same forms).")],
    "grep": Annotated[_OptStr, _option(
        "--grep", "-g", metavar="REGEX",
        help="Messages matching this regular expression (case-insensitive unless it has upper case).")],
    "utc": Annotated[bool, typer.Option("--utc", help="Show and read times in UTC instead of local time.")],
}
QUERY_ARGUMENT = Annotated[_OptStr, typer.Argument(metavar="QUERY", help=QUERY_HELP, show_default=False)]
QUERY_OPTION = Annotated[_OptStr, _option("--query", "-q", metavar="QUERY", help=QUERY_HELP)]


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def build_filter(values: dict[str, Any], *, utc: bool, query_name: str) -> LogFilter:
    """A ``LogFilter`` from option values as typed; errors name the option."""
    for name, value in values.items():  # an argument that was not UTF-8 reaches us surrogate-escaped
        if isinstance(value, str) and not _is_text(value):
            option = query_name if name == "query" else "--" + name.replace("_", "-")
            raise QueryError(f"{option}: {value!r} is not valid text (bytes that are not UTF-8)")
    query = values.pop("query", None)
    if query is not None:
        parse_text_query(query, query_name)  # a bad query is reported under the name the user typed
    since = values.pop("since", None)
    until = values.pop("until", None)
    fields: dict[str, Any] = {name: value or None for name, value in values.items() if name != "level"}
    return LogFilter(
        levels=parse_levels(values.get("level"), "--level"),
        since=parse_time(since, option="--since", utc=utc) if since else None,
        until=parse_time(until, option="--until", utc=utc) if until else None,
        text=query,
        **fields,
    )


def filter_options(*, query: Literal["argument", "option"] = "option", grep: bool = True,
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the decorated command the shared filters; it receives ``flt`` and ``utc``."""
    added = {name: kind for name, kind in FILTER_PARAMS.items() if grep or name != "grep"}
    added["query"] = QUERY_ARGUMENT if query == "argument" else QUERY_OPTION
    query_name = "QUERY" if query == "argument" else "--query"

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name not in ("flt", "utc")]
        extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                   default=False if name == "utc" else None)
                 for name, kind in added.items()]
        if query == "argument":  # the positional QUERY comes first, before the command's options
            extra.insert(0, extra.pop())

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in added}
            utc = bool(values.pop("utc"))
            kwargs["flt"] = build_filter(values, utc=utc, query_name=query_name)
            return func(utc=utc, **kwargs)

        params = [*extra[:1], *own, *extra[1:]] if query == "argument" else [*own, *extra]
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
