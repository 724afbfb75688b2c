"""``tree validate FILE``: a summary and exit 0, or every problem on stderr and exit 1; never
a daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.daemon.record import DaemonRecord
from tests.e2e.conftest import EXAMPLES, Cli


@pytest.mark.parametrize(
    ("example", "summary"),
    [
        ("research-team.yaml", "3 supervisors, 5 agents"),
        ("pipeline.toml", "1 supervisor, 3 agents"),
        ("single.yaml", "1 supervisor, 1 agent"),
    ],
)
def test_an_example_validates_with_a_summary(cli: Cli, example: str, summary: str) -> None:
    path = EXAMPLES / example

    result = cli("tree", "validate", str(path))

    assert result.code == 0, result
    assert result.stdout == f"{path}: ok ({summary})\n"
    assert result.stderr == ""
    assert DaemonRecord.read(cli.settings) is None, "validate started a daemon"


def test_a_bad_file_lists_every_problem_with_its_path_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "tree:\n"
        "  name: team\n"
        "  intensity: -1\n"
        "  children:\n"
        "    - name: planner\n"
        "    - name: coder\n"
        "    - name: tester\n"
        "      restart: always\n"
    )

    result = cli("tree", "validate", str(path), COLUMNS="40")

    assert result.code == 1, result
    assert result.stdout == ""
    assert result.stderr_lines == [
        f"{path}: tree.intensity: expected a whole number >= 0, got -1",
        f"{path}: tree.children[2].restart: expected permanent|transient|temporary, got 'always'",
    ]
    assert DaemonRecord.read(cli.settings) is None, "validate started a daemon"


def test_a_file_that_cannot_be_read_is_one_problem_without_a_path(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"

    result = cli("tree", "validate", str(missing))

    assert result.code == 1, result
    assert result.stderr_lines == [f"{missing}: no such file"]
