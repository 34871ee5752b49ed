"""Load settings: packaged defaults < ``$AICO_HOME/config/core.yaml`` < ``AICO_*__*`` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aico.config.sections import SettingError
from aico.config.settings import Settings
from aico.errors import ConfigError

ENV_PREFIX = "AICO_"
ENV_SEPARATOR = "__"


def aico_home(env: Mapping[str, str] | None = None) -> Path:
    """The state folder: ``$AICO_HOME``, else the platform's user data folder."""
    env = os.environ if env is None else env
    home = env.get("AICO_HOME")
    if home:
        return Path(home).expanduser().resolve()
    import platformdirs  # ~10 ms, and only when AICO_HOME is not set

    return Path(platformdirs.user_data_dir("aico"))


def defaults() -> dict[str, Any]:
    text = resources.files("aico.config").joinpath("defaults/core.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


def _merge(base: dict[str, Any], over: Mapping[str, Any], where: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown config key {key!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: {key!r} must be a mapping")
            # a mapping empty by default (core.otlp_export.headers) is free-form: taken as given
            out[key] = _merge(base[key], value, where) if base[key] else dict(value)
        else:
            out[key] = value
    return out


def yaml_problem(exc: BaseException) -> str:
    """What is wrong with a YAML text, in one line (PyYAML's own message spans several, with a caret)."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, yaml.MarkedYAMLError):
        where = f"line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}: " if exc.problem_mark else ""
        return where + " ".join(filter(None, (exc.context, exc.problem)))
    return " ".join(str(exc).split())


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """``AICO_CORE__MESSAGE_BUS__PUB_PORT=15555`` -> ``{"core": {"message_bus": {"pub_port": 15555}}}``."""
    tree: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_SEPARATOR)]
        if not all(parts):
            raise ConfigError(f"environment variable {name}: empty key in path")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name}: conflicts with another override")
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw != "" else ""
        except (ValueError, yaml.YAMLError, RecursionError) as exc:
            raise ConfigError(f"environment variable {name}: not a valid value: {yaml_problem(exc)}") from exc
    return tree


def config_file(home: Path) -> Path:
    return home / "config" / "core.yaml"


def load_settings(
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """The effective settings for ``home`` (default: ``aico_home(env)``)."""
    env = os.environ if env is None else env
    home = aico_home(env) if home is None else Path(home)
    data = defaults()
    path = config_file(home)
    if path.exists():
        try:
            user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
        except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: not UTF-8
            raise ConfigError(f"{path}: cannot read config: {yaml_problem(exc)}") from exc
        if not isinstance(user, Mapping):
            raise ConfigError(f"{path}: top level must be a mapping")
        data = _merge(data, user, str(path))
    data = _merge(data, _env_overrides(env), "environment")
    if overrides:
        data = _merge(data, overrides, "overrides")
    try:
        return Settings.model_validate({"home": home, **data})
    except SettingError as exc:
        got = f" (got {exc.value!r})" if exc.value is not None else ""
        raise ConfigError(f"config {exc.where}: {exc.message}{got}") from exc
