"""Load settings: packaged defaults < ``$AICO_HOME/config/core.yaml`` < ``AICO_*__*`` variables."""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


DEFAULTS = Path(__file__).resolve().parent / "defaults" / "core.yaml"
#: ``core.yaml`` read once into JSON, with the CRC-32 of the text it was read from: the packaged
#: defaults without importing and running PyYAML (~15 ms of every command); a ``core.yaml`` changed
#: since is read as YAML again (``python -m aico.config.loader`` writes the JSON anew).
DEFAULTS_JSON = DEFAULTS.with_name("core.json")


def _yaml() -> Any:
    import yaml  # only for a user's config file, a YAML-only override, or stale packaged defaults

    return yaml


def defaults() -> dict[str, Any]:
    raw = DEFAULTS.read_bytes()
    try:
        cached = json.loads(DEFAULTS_JSON.read_bytes())
        if cached.get("crc32") == zlib.crc32(raw):
            return dict(cached["core.yaml"])
    except (OSError, ValueError, AttributeError):
        pass  # no JSON (or a broken one): the YAML itself
    return dict(_yaml().safe_load(raw.decode("utf-8")))


def write_defaults_json() -> Path:
    """Write ``core.json`` for the current ``core.yaml`` (run when ``core.yaml`` changes)."""
    raw = DEFAULTS.read_bytes()
    data = {"crc32": zlib.crc32(raw), "core.yaml": _yaml().safe_load(raw.decode("utf-8"))}
    DEFAULTS_JSON.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return DEFAULTS_JSON


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
    if isinstance(exc, _yaml().MarkedYAMLError):
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
            node[parts[-1]] = _scalar(raw)
        except (ValueError, _yaml().YAMLError, RecursionError) as exc:
            raise ConfigError(f"environment variable {name}: not a valid value: {yaml_problem(exc)}") from exc
    return tree


_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+:-]*")
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+][0-9]+)?")  # YAML 1.1: the exponent has a sign
_WORDS = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False,
          "null": None, "~": None}


def _scalar(raw: str) -> Any:
    """An environment value as YAML reads it: the common plain scalars here, anything else by PyYAML."""
    if raw == "":
        return ""
    if raw.lower() in _WORDS and raw in (raw.lower(), raw.capitalize(), raw.upper()):
        return _WORDS[raw.lower()]
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    if _PLAIN.fullmatch(raw) and not raw.endswith(":"):
        return raw
    return _yaml().safe_load(raw)


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
        yaml = _yaml()
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


if __name__ == "__main__":
    print(f"wrote {write_defaults_json()}")  # noqa: T201 - a maintainer's command
