"""The docs stay honest: every `aico logs` command has help text, and the README shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from aico.cli.main import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(app).commands["logs"].commands  # type: ignore[attr-defined]


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
