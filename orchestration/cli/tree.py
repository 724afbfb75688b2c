"""``tree validate``: check a tree config file and report every problem with its path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.output import console, errors
from orchestration.runtime import validate_tree_file

tree = typer.Typer(help="Supervision trees described by config files.", no_args_is_help=True)


@tree.command()
def validate(
    file: Annotated[Path, typer.Argument(help="a tree file: .yaml, .yml or .toml")],
) -> None:
    """Check a tree file offline (no daemon is started); list every problem and exit 1."""
    summary, problems = validate_tree_file(file)
    for path, message in problems:
        errors.print(
            f"{file}: {path}: {message}" if path else f"{file}: {message}",
            markup=False,
            soft_wrap=True,
        )
    if problems:
        raise typer.Exit(1)
    console.print(f"{file}: ok ({summary})", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tree, name="tree")
