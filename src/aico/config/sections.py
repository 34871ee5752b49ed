"""Frozen, typed configuration sections checked by a small validator of our own.

Every ``aico`` command and every backend process loads the settings first. Pydantic did this
before, and its import and model building cost ~70 ms and ~15 MB of each process for a dozen
flat sections: here a section is a frozen class taking keyword arguments, each field's type read from
its annotation and its bounds from :func:`Field` (``ge``, ``gt``, ``le``, ``lt``, ``pattern``,
``min_length``, as pydantic spelled them), and a section may add a cross-field ``check``.

Values are taken as pydantic's lax mode took them from YAML and the environment: an int for a
float, a whole float or a numeric string for an int, ``yes``/``no``/``on``/``off`` for a bool;
anything else is a :class:`SettingError` naming the field. The ``model_*`` methods keep the
names their callers already use (``model_dump_json`` feeds a child its settings on stdin).
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

S = TypeVar("S", bound="Section")
_MISSING: Any = object()
_TRUE = frozenset({"true", "yes", "on", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "off", "0", "n", "f"})


class SettingError(ValueError):
    """A value that does not fit its field: ``where`` is the dotted path, ``value`` what was given."""

    def __init__(self, where: str, message: str, value: object) -> None:
        super().__init__(f"{where}: {message}")
        self.where, self.message, self.value = where, message, value


class _Spec:
    """A field's default (``_MISSING``: required) and bounds."""

    __slots__ = ("bounds", "default")

    def __init__(self, default: Any, bounds: dict[str, Any]) -> None:
        self.default, self.bounds = default, bounds


def Field(default: Any = _MISSING, *, ge: float | None = None, gt: float | None = None,
          le: float | None = None, lt: float | None = None, pattern: str | None = None,
          min_length: int | None = None) -> Any:
    """A field with bounds (no ``default``: required)."""
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt), ("pattern", pattern),
                                ("min_length", min_length)) if v is not None}
    return _Spec(default, bounds)


class Section:
    """A frozen group of settings: its fields are its annotations, taken as keyword arguments.

    Plain classes, not dataclasses: making a dataclass generates and compiles code, ~1 ms a
    class here, and every process makes all of them on start.
    """

    model_fields: ClassVar[dict[str, _Spec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls.model_fields)
        for name in inspect.get_annotations(cls):
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Spec) else _Spec(value, {})
            if isinstance(value, _Spec):
                delattr(cls, name)
            fields[name] = spec
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        for name, spec in self.model_fields.items():
            if name in values:
                value = values.pop(name)
            elif spec.default is not _MISSING:
                value = spec.default
            else:
                raise TypeError(f"{type(self).__name__}: {name} is required")
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: no field {sorted(values)[0]}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: make a changed copy with model_copy")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self.model_fields)

    def __hash__(self) -> int:
        return hash((type(self), *(repr(getattr(self, n)) for n in self.model_fields)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.model_fields)})"

    def check(self) -> None:
        """Cross-field rules (a ``ValueError`` when broken); none by default."""

    @classmethod
    def adjust(cls, data: dict[str, Any]) -> dict[str, Any]:
        """The raw values before they are checked (a section may read a YAML quirk its own way)."""
        return data

    @classmethod
    def model_validate(cls: type[S], data: object, where: str = "") -> S:
        """A section from plain data (YAML, JSON), every field checked."""
        if not isinstance(data, dict):
            raise SettingError(where or cls.__name__, "should be a mapping", data)
        data = cls.adjust(data)
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            at = f"{where}.{name}" if where else name
            if name not in data:
                if field.default is _MISSING:
                    raise SettingError(at, "is required", None)
                continue
            values[name] = _bounded(_coerce(hints[name], data[name], at), field.bounds, at)
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            at = f"{where}.{unknown[0]}" if where else unknown[0]
            raise SettingError(at, "is not a known setting", data[unknown[0]])
        made = cls(**values)
        try:
            made.check()
        except ValueError as exc:
            raise SettingError(where or cls.__name__, str(exc), None) from None
        return made

    @classmethod
    def model_validate_json(cls: type[S], text: str | bytes) -> S:
        return cls.model_validate(json.loads(text))

    def model_dump(self, mode: str = "json") -> dict[str, Any]:
        """Plain data (paths as text), as :meth:`model_validate` takes it back."""
        return {name: _dump(getattr(self, name)) for name in self.model_fields}

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(), separators=(",", ":"))

    def model_copy(self: S, *, update: dict[str, Any] | None = None) -> S:
        return type(self)(**{**{n: getattr(self, n) for n in self.model_fields}, **(update or {})})


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _dump(value: Any) -> Any:
    if isinstance(value, Section):
        return value.model_dump()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _coerce(kind: Any, value: Any, where: str) -> Any:
    origin = get_origin(kind)
    if origin is Union or origin is types.UnionType:
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _coerce(inner, value, where)
    if origin is Literal:
        choices = get_args(kind)
        if value in choices and type(value) is type(choices[choices.index(value)]):
            return value
        raise SettingError(where, "should be one of " + ", ".join(repr(c) for c in choices), value)
    if origin is list:
        if not isinstance(value, list):
            raise SettingError(where, "should be a list", value)
        (item,) = get_args(kind)
        return [_coerce(item, v, f"{where}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SettingError(where, "should be a mapping", value)
        key_kind, item = get_args(kind)
        return {_coerce(key_kind, k, where): _coerce(item, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(kind, type) and issubclass(kind, Section):
        return kind.model_validate(value, where)
    if kind is bool:
        return _bool(value, where)
    if kind is int:
        return _int(value, where)
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise SettingError(where, "should be a number", value)
    if kind is str:
        if isinstance(value, str):
            return value
        raise SettingError(where, "should be text", value)
    if kind is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise SettingError(where, "should be a path", value)
    raise TypeError(f"{where}: no rule for fields of type {kind!r}")


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SettingError(where, "should be true or false", value)


def _int(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise SettingError(where, "should be a whole number", value)


def _bounded(value: Any, bounds: dict[str, Any], where: str) -> Any:
    if value is None:
        return value
    for name, limit in bounds.items():
        if name == "ge" and not value >= limit:
            raise SettingError(where, f"should be at least {limit}", value)
        if name == "gt" and not value > limit:
            raise SettingError(where, f"should be more than {limit}", value)
        if name == "le" and not value <= limit:
            raise SettingError(where, f"should be at most {limit}", value)
        if name == "lt" and not value < limit:
            raise SettingError(where, f"should be less than {limit}", value)
        if name == "pattern" and not re.search(limit, value):
            raise SettingError(where, f"should match {limit}", value)
        if name == "min_length" and len(value) < limit:
            raise SettingError(where, f"should have at least {limit} character{'s' if limit != 1 else ''}", value)
    return value
