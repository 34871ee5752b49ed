"""Configuration: defaults, the user's file, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aico.config import load_settings
from aico.errors import ConfigError


def test_defaults_mirror_the_spec(tmp_path: Path) -> None:
    """The packaged defaults carry the spec's bus host and ports."""
    s = load_settings(home=tmp_path, env={})
    assert s.core.message_bus.host == "localhost"
    assert (s.core.message_bus.pub_port, s.core.message_bus.sub_port) == (5555, 5556)
    assert s.core.logging.level == "INFO"


def test_user_file_then_environment_override(tmp_path: Path) -> None:
    """$AICO_HOME/config/core.yaml overrides defaults, and AICO_* variables override the file."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "core.yaml").write_text("core:\n  message_bus:\n    pub_port: 7000\n    sub_port: 7001\n")
    env = {"AICO_CORE__MESSAGE_BUS__PUB_PORT": "15555"}
    s = load_settings(home=tmp_path, env=env)
    assert s.core.message_bus.pub_port == 15555
    assert s.core.message_bus.sub_port == 7001


def test_aico_home_from_environment(tmp_path: Path) -> None:
    """AICO_HOME decides where every piece of state lives."""
    s = load_settings(env={"AICO_HOME": str(tmp_path)})
    assert s.home == tmp_path.resolve()
    assert s.database_path.is_relative_to(tmp_path.resolve())


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"AICO_CORE__MESSAGE_BUS__PUB_PORT": "eighty"}, "pub_port"),
        ({"AICO_CORE__MESSAGE_BUS__NO_SUCH_KEY": "1"}, "no_such_key"),
        ({"AICO_CORE__MESSAGE_BUS__PUB_PORT": "70000"}, "pub_port"),
    ],
)
def test_bad_overrides_name_the_key(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    """A wrong value or an unknown key is a ConfigError that names it."""
    with pytest.raises(ConfigError, match=needle):
        load_settings(home=tmp_path, env=env)


def test_unreadable_yaml_is_a_config_error(tmp_path: Path) -> None:
    """A broken config file is reported with its path."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "core.yaml").write_text("core: [unclosed\n")
    with pytest.raises(ConfigError, match=r"core\.yaml"):
        load_settings(home=tmp_path, env={})
