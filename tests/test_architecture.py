"""The architecture's rules that import-linter cannot check: short functions, and sub-packages that say what they own.

Import boundaries themselves are import-linter's contracts in pyproject.toml (`make lint`).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("core", "app_predict", "app_train_dashboard", "wsgi.py")
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    paths = [ROOT / source for source in SOURCES]
    return sorted(module for path in paths for module in ([path] if path.is_file() else path.rglob("*.py")))


def _long_functions(module: Path) -> list[str]:
    """`path:line name (N lines)` for each function or method longer than the limit, counted from `def` to its end."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{module.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_the_sources_are_found():
    modules = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"wsgi.py", "core/settings.py", "app_predict/app.py", "app_train_dashboard/app.py"} <= modules


def test_no_function_is_longer_than_sixty_lines():
    too_long = [entry for module in _modules() for entry in _long_functions(module)]
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(too_long)


@pytest.mark.parametrize("package", sorted(path.parent.name for path in (ROOT / "core").glob("*/__init__.py")))
def test_each_core_sub_package_says_what_it_owns_and_may_import(package):
    docstring = ast.get_docstring(ast.parse((ROOT / "core" / package / "__init__.py").read_text(encoding="utf-8")))
    assert docstring, f"core/{package}/__init__.py has no docstring saying what it owns and what it may import"
    summary = docstring.splitlines()[0]
    assert len(summary.split()) >= 4, f"core.{package}: the docstring's first line should say what it owns: {summary!r}"
    assert "may import" in docstring.lower(), f"core.{package}: the docstring should say what it may import"
