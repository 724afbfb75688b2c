"""Every command's help: a one-sentence summary, paragraphs reflowed to the terminal, examples.

Also: shell completion resolves commands through the lazily imported command groups.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer import _click as click
from typer.main import get_command
from typer.testing import CliRunner

from orchestration.cli.app import COMMANDS, app

SCRIPT = Path(sys.executable).parent / "orchestration"
WIDTH = 80
FILLED = 50
"""A help line that another line of its paragraph follows is at least this long."""


def _leaves() -> Iterator[tuple[tuple[str, ...], Any]]:
    root = get_command(app)
    context = click.Context(root)

    def walk(command: Any, path: tuple[str, ...], ctx: click.Context) -> Iterator:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                yield from walk(sub, (*path, name), click.Context(sub, parent=ctx, info_name=name))
        else:
            yield path, command

    yield from walk(root, (), context)


LEAVES = dict(_leaves())


def test_every_registered_command_is_reachable() -> None:
    assert {path[0] for path in LEAVES} == set(COMMANDS)


@pytest.mark.parametrize("path", list(LEAVES), ids=" ".join)
def test_the_summary_is_one_sentence_on_one_line_and_examples_are_given(
    path: tuple[str, ...],
) -> None:
    command = LEAVES[path]
    summary = (command.help or "").strip().split("\n\n")[0]
    assert "\n" not in summary, f"{summary!r}: the summary must fit one line"
    assert summary.endswith("."), f"{summary!r}: one sentence, with its full stop"
    assert ". " not in summary, f"{summary!r}: one sentence only"
    assert command.epilog and command.epilog.startswith("Examples:")
    assert "orchestration " + " ".join(path) in command.epilog


@pytest.mark.parametrize("path", list(LEAVES), ids=" ".join)
def test_help_reflows_every_paragraph_to_the_terminal(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)}, color=False)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next(i for i, line in enumerate(lines) if line.lstrip().startswith("╭"))
    paragraph: list[str] = []
    for line in [*lines[start:end], ""]:
        if line.strip():
            paragraph.append(line.strip())
            continue
        for early in paragraph[:-1]:
            assert len(early) >= FILLED, f"a line broken mid-paragraph: {early!r}"
        paragraph = []


def test_completion_resolves_commands_and_subcommands() -> None:
    def complete(words: str) -> list[str]:
        env = {
            **os.environ,
            "_ORCHESTRATION_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = subprocess.run(
            [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout.split()

    assert complete("orchestration ro") == ["room"]
    assert "create" in complete("orchestration room cr")
    assert set(complete("orchestration se")) == {"service", "send", "serve"}
    shown = subprocess.run(
        [str(SCRIPT), "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "complete -o default -F _orchestration_completion orchestration" in shown.stdout
