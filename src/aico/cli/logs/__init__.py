"""``aico logs``: search, follow, count, export and prune the encrypted log store.

One Typer group; each module holds a few of its commands: ``query`` (ls, count, show, trace),
``tail``, ``stats``, ``export``, ``admin`` (sql, rm); ``archive`` is its own group. A command's
module is imported only when that command runs (``aico.cli.lazy``).
"""

from __future__ import annotations

from aico.cli.lazy import Entry, lazy_app

#: Each command's module and its help line (the first line of its docstring; a test checks they agree).
COMMANDS = {
    "ls": Entry("aico.cli.logs.query", "List the newest matching records, newest last (like journalctl); "
                "QUERY searches the messages.", "ls"),
    "count": Entry("aico.cli.logs.query", "Print how many records match (all of them, without filters).", "count"),
    "show": Entry("aico.cli.logs.query", "Show one record whole: every field, extra, error details and the stack.",
                  "show"),
    "trace": Entry("aico.cli.logs.query",
                   "The correlation view: every record of a trace, frontend and backend, in time order.", "trace"),
    "tail": Entry("aico.cli.logs.tail", "Show the last N matching records; with -f, keep showing new ones as they "
                  "arrive.", "tail"),
    "stats": Entry("aico.cli.logs.stats", "Counts and error rates by a field or by hour/day, top modules by errors, "
                   "size, age and recent rate.", "stats"),
    "export": Entry("aico.cli.logs.export", "Export matching records, oldest first, to JSON Lines, CSV or Parquet "
                    "(private values masked unless --raw).", "export"),
    "sql": Entry("aico.cli.logs.admin", "Run read-only SQL over the logs table (and logs_fts, rejects); anything "
                 "that writes is refused.", "sql"),
    "rm": Entry("aico.cli.logs.admin", "Remove matching records (asks first, unless --yes); says how many were "
                "removed.", "rm"),
    "archive": Entry("aico.cli.archive", "Daily encrypted archives: run retention now, list, restore a day, search."),
}

app = lazy_app(COMMANDS, help="Search, tail, count, export and prune the stored logs.",
                  no_args_is_help=True)

__all__ = ["app"]
