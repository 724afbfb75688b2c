"""The shape of every module of ``orchestration/``: it says what it exports (``__all__``), and it
stays small enough to read (at most `MAX_LINES` lines), but for the named exceptions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "orchestration"
MAX_LINES = 450

EXCEPTIONS = {
    # The supervisor's state machine, kept whole: its step queue, queued failures and child
    # states interlock, and `RootSupervisor` overrides its hooks. Its OTP rules are a pure core
    # (`supervision.strategy`, `supervision.intensity`).
    "supervision/supervisor.py",
}

MODULES = sorted(
    path.relative_to(PACKAGE).as_posix()
    for path in PACKAGE.rglob("*.py")
    if path.name != "__main__.py"
)


def _defines_all(source: str) -> bool:
    for node in ast.parse(source).body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_what_it_exports(module: str) -> None:
    assert _defines_all((PACKAGE / module).read_text()), f"{module} has no __all__"


@pytest.mark.parametrize("module", MODULES)
def test_every_module_names_only_what_it_defines_in_its_all(module: str) -> None:
    source = (PACKAGE / module).read_text()
    tree = ast.parse(source)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                names = ast.literal_eval(node.value)
    defined = (
        {
            alias.asname or alias.name.partition(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        | {
            target.id
            for node in ast.walk(tree)
            for target in (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            if isinstance(target, ast.Name)
        }
        | {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
    )
    assert [name for name in names if name not in defined] == []
    assert [name for name in names if name.startswith("_")] == []


@pytest.mark.parametrize("module", MODULES)
def test_no_module_is_over_the_size_limit(module: str) -> None:
    lines = len((PACKAGE / module).read_text().splitlines())
    if module in EXCEPTIONS:
        return
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


def test_the_exceptions_are_still_needed() -> None:
    for module in EXCEPTIONS:
        lines = len((PACKAGE / module).read_text().splitlines())
        assert lines > MAX_LINES, f"{module} has {lines} lines: drop it from the exceptions"
