"""Architecture rules import contracts cannot express (those are in pyproject.toml, run by `make lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("learninghub", "experiments", "postmortems", "awards")


def source_files() -> list[Path]:
    return sorted(path for package in SOURCE_PACKAGES for path in (ROOT / package).rglob("*.py")
                  if "migrations" not in path.relative_to(ROOT).parts)


def get_model_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_model"]


def test_the_source_tree_is_scanned():
    files = {path.relative_to(ROOT).as_posix() for path in source_files()}
    assert {"learninghub/kernel/models.py", "experiments/services.py", "awards/models.py"} <= files
    assert not any("/migrations/" in name for name in files)


def test_apps_get_model_only_in_migrations():
    """A model is reached by importing it from the layer below (or through its app's selectors and
    services), never by name at run time, which hides a dependency from the import contracts."""
    offenders = {path.relative_to(ROOT).as_posix(): lines
                 for path in source_files() if (lines := get_model_calls(path))}
    assert offenders == {}, f"get_model() outside migrations (file: lines): {offenders}"
