"""The suite keeps itself documented: every test says in a docstring what it proves."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_function_has_a_docstring() -> None:
    """An ast scan of tests/ finds no test function (or method) without a non-empty docstring."""
    missing = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            is_test = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
            if is_test and not (ast.get_docstring(node) or "").strip():
                missing.append(f"{path.relative_to(TESTS)}:{node.lineno} {node.name}")
    assert not missing, "tests without a docstring saying what they prove:\n" + "\n".join(missing)
