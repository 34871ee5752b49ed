"""The docs stay honest: every `aico logs` command has help text, and the README shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aico.cli.lazy import every_command
from aico.cli.logs import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
COMMANDS = every_command(app)


def test_there_are_logs_commands() -> None:
    """The logs group holds the commands the README promises."""
    assert {"ls", "tail", "show", "trace", "stats", "export", "sql", "rm", "count"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_logs_command_has_help_and_is_in_the_readme(name: str) -> None:
    """Each subcommand has a help line, each of its options a help text, and README.md shows it."""
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"aico logs {name} has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert (getattr(param, "help", "") or "").strip(), f"aico logs {name} {param.opts[0]} has no help"
    assert f"aico logs {name}" in README, f"README.md does not show `aico logs {name}`"


def test_the_opentelemetry_section_documents_every_export_setting() -> None:
    """README's OpenTelemetry section names the route, the mapping, the plugin and each core.otlp_export key."""
    from aico.config.settings import OtlpExport

    section = README.split("## OpenTelemetry", 1)[1].split("\n## ", 1)[0]
    for needle in ("POST /v1/logs", "partial_success", "Idempotency-Key", "log_otlp_export", "structlog_processor",
                   "loguru_sink", "severity_number", "service.name", "exception.stacktrace"):
        assert needle in section, needle
    for key in OtlpExport.model_fields:  # a plain dataclass now: its fields by name
        assert f"`{key}`" in section or f"{key}:" in section, f"core.otlp_export.{key} is not in the README"
    assert "OpenTelemetry Collector" in README.split("## Design notes", 1)[1]
