"""Settings load without PyYAML on the common path, and read exactly as PyYAML would."""

from __future__ import annotations

import json
import zlib

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from aico.config import load_settings, loader
from aico.config.sections import SettingError
from aico.config.settings import MessageBus, Settings
from aico.errors import ConfigError

SAMPLES = ["", "0", "15555", "-3", "+7", "010", "0x1f", "1_000", "1:30", "0.5", ".5", "1.", "1.5e3", "1.5e+3",
           "true", "True", "TRUE", "tRUE", "yes", "no", "on", "Off", "y", "n", "null", "Null", "~", "localhost",
           "127.0.0.1", "a:b", "a: b", "x:", "[a, b]", "{a: 1}", "'quoted'", '"q"', "-", "-x", ".inf", ".nan",
           "2026-01-01", "@x", "a#b", "a #b", "/var/lib/aico", "INFO", "message_bus,log_consumer", "!!str 5"]


@pytest.mark.parametrize("raw", SAMPLES)
def test_environment_values_read_as_yaml_reads_them(raw: str) -> None:
    """Each sample value is read as PyYAML reads it (the fast path or PyYAML itself)."""
    try:
        expected = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            loader._scalar(raw)
        return
    got = loader._scalar(raw)
    assert repr(got) == repr(expected) and type(got) is type(expected)  # repr: nan equals nan


@given(st.text(alphabet="abcxyzAZ019_-+.:/@ ~eE", max_size=8))
def test_any_short_value_reads_as_yaml_reads_it(raw: str) -> None:
    """Any short value over a tricky alphabet is read as PyYAML reads it."""
    try:
        expected = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        return
    got = loader._scalar(raw)
    assert repr(got) == repr(expected) and type(got) is type(expected)  # repr: nan equals nan


def test_packaged_defaults_json_is_current() -> None:
    """core.json holds what core.yaml says (after changing core.yaml: python -m aico.config.loader)."""
    raw = loader.DEFAULTS.read_bytes()
    cached = json.loads(loader.DEFAULTS_JSON.read_text(encoding="utf-8"))
    assert cached["crc32"] == zlib.crc32(raw)
    assert cached["core.yaml"] == yaml.safe_load(raw)


def test_stale_json_falls_back_to_the_yaml(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A core.json of another core.yaml is not used: the defaults are read from the YAML."""
    stale = tmp_path / "core.json"
    stale.write_text(json.dumps({"crc32": 1, "core.yaml": {"core": {}}}), encoding="utf-8")
    monkeypatch.setattr(loader, "DEFAULTS_JSON", stale)
    assert loader.defaults() == yaml.safe_load(loader.DEFAULTS.read_bytes())


def test_settings_round_trip_through_json(tmp_path) -> None:
    """A child gets its settings as JSON and reads back equal settings."""
    s = load_settings(home=tmp_path, env={})
    assert Settings.model_validate_json(s.model_dump_json()) == s


@pytest.mark.parametrize(("value", "needle"), [
    ("yes please", "should be true or false"), (1.5, "should be a whole number"), (0, "should be at least 1"),
    (True, "should be a whole number"),
])
def test_bad_values_name_the_field(value: object, needle: str) -> None:
    """A value of the wrong kind, or out of bounds, names the field and says what was expected."""
    data = {"host": "h", "bind_host": "b", "pub_port": 1, "sub_port": 2, "high_water_mark": 0, "curve": True}
    key = "curve" if needle.startswith("should be true") else "pub_port"
    with pytest.raises(SettingError, match=f"{key}: {needle}"):
        MessageBus.model_validate({**data, key: value})


def test_sections_are_frozen(tmp_path) -> None:
    """A loaded section cannot be changed in place; model_copy makes a changed copy."""
    bus = load_settings(home=tmp_path, env={}).core.message_bus
    with pytest.raises(AttributeError):
        bus.pub_port = 1  # type: ignore[misc]
    assert bus.model_copy(update={"pub_port": 1}).pub_port == 1


def test_cross_field_rule_is_a_config_error(tmp_path) -> None:
    """A section's own rule (hot_days within days) reaches the user as one ConfigError line."""
    with pytest.raises(ConfigError, match="hot_days"):
        load_settings(home=tmp_path, env={"AICO_CORE__LOGGING__RETENTION__HOT_DAYS": "400"})
