"""Loggers that accept the schema's fields in ``extra=`` without raising.

A plain stdlib logger raises ``KeyError`` for ``extra={"module": ...}`` (``module`` is a
LogRecord attribute). ``SafeExtraLogger.makeRecord`` moves such keys aside instead, and
``fields.build`` reads them back as the record's fields.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from aico.logging.fields import COLLISIONS, STANDARD_ATTRS


class _SafeExtra:
    def makeRecord(self, name: str, level: int, fn: str, lno: int, msg: object, args: Any, exc_info: Any,
                   func: str | None = None, extra: Any = None, sinfo: str | None = None) -> logging.LogRecord:
        if extra:
            clashes = {k: v for k, v in extra.items() if k in STANDARD_ATTRS}
            if clashes:
                extra = {k: v for k, v in extra.items() if k not in clashes}
                extra[COLLISIONS] = clashes
        made: logging.LogRecord = super().makeRecord(  # type: ignore[misc]
            name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)
        return made


class SafeExtraLogger(_SafeExtra, logging.Logger):
    pass


class SafeExtraRootLogger(_SafeExtra, logging.RootLogger):
    pass


def make_safe(logger: logging.Logger) -> None:
    """Give an existing plain Logger (or the root) the safe ``makeRecord``."""
    if type(logger) is logging.Logger:
        logger.__class__ = SafeExtraLogger
    elif type(logger) is logging.RootLogger:
        logger.__class__ = SafeExtraRootLogger


def make_all_safe() -> None:
    """New loggers are safe from now on, and so are those that exist."""
    if logging.getLoggerClass() is logging.Logger:
        logging.setLoggerClass(SafeExtraLogger)
    make_safe(logging.getLogger())
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            make_safe(logger)


class AicoLoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """A logger bound to a subsystem and module; ``extra=`` may set any schema field."""

    def __init__(self, logger: logging.Logger, subsystem: str | None, module: str | None) -> None:
        super().__init__(logger, {})
        self.subsystem = subsystem
        self.module = module

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(kwargs.get("extra") or {})
        if self.subsystem:
            extra.setdefault("_aico_subsystem", self.subsystem)
        if self.module:
            extra.setdefault("_aico_module", self.module)
        clashes = {k: v for k, v in extra.items() if k in STANDARD_ATTRS}
        if clashes:
            extra = {k: v for k, v in extra.items() if k not in clashes}
            extra[COLLISIONS] = clashes
        kwargs["extra"] = extra
        return msg, kwargs
