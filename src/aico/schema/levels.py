"""Log levels: the five names, their numbers, and the aliases people type."""

from __future__ import annotations

from aico.errors import FieldError, ValidationError

LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
ALIASES: dict[str, str] = {"WARN": "WARNING", "FATAL": "CRITICAL"}
BY_NUMBER: dict[int, str] = {n: name for name, n in LEVELS.items()}
_SPELLED = {form: ALIASES.get(name, name) for name in (*LEVELS, *ALIASES)
            for form in (name, name.lower(), name.capitalize())}  # the usual spellings, looked up at once


def parse_level(value: object, field: str = "level") -> str:
    """The canonical name of a level given as a name (any case, aliases too) or a number."""
    if isinstance(value, str):
        known = _SPELLED.get(value)
        if known is not None:
            return known
        name = value.strip().upper()
        name = ALIASES.get(name, name)
        if name in LEVELS:
            return name
    elif isinstance(value, int) and not isinstance(value, bool) and value in BY_NUMBER:
        return BY_NUMBER[value]
    allowed = ", ".join(LEVELS)
    raise ValidationError([FieldError(field, f"unknown level {value!r} (expected one of {allowed})")])


def at_least(level: str) -> list[str]:
    """The level names at or above ``level``: the journalctl ``-p`` threshold."""
    floor = LEVELS[parse_level(level)]
    return [name for name, n in LEVELS.items() if n >= floor]


def stdlib_to_level(levelno: int) -> str:
    """Map a stdlib ``logging`` level number (custom ones too) to the nearest level at or below."""
    if levelno >= 50:
        return "CRITICAL"
    if levelno >= 40:
        return "ERROR"
    if levelno >= 30:
        return "WARNING"
    if levelno >= 20:
        return "INFO"
    return "DEBUG"
