"""``tree``: draw the live supervision tree; ``tree validate FILE``: check a tree file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from orchestration.cli.output import ago, console, errors
from orchestration.runtime import Runtime, validate_tree_file

tree = typer.Typer(help="The live supervision tree, and tree files.")
STATE_STYLES = {"idle": "green", "processing": "cyan", "starting": "yellow", "failed": "bold red"}


@tree.callback(invoke_without_command=True)
def show(context: typer.Context) -> None:
    """Draw the running tree: supervisors with their strategy, agents with state, PID and
    restarts."""
    if context.invoked_subcommand is not None:
        return
    with Runtime.connect(start=False) as runtime:
        status = runtime.status()
        agents = runtime.list()
    root = Tree(
        f"[bold]orchestration.root[/]  one_for_one · at most {status.restart_intensity} "
        f"restart(s) per agent in {status.restart_period} s · admin pid {status.pid}"
    )
    for agent in agents:
        style = STATE_STYLES.get(agent.state, "dim")
        model = escape(agent.spec.model_ref)
        root.add(
            f"[bold]{agent.spec.name}[/]  {model}  [{style}]{agent.state}[/]  "
            f"pid {agent.pid or '-'}  restarts {agent.restarts}  turns {agent.turns}  "
            f"last {ago(agent.last_activity)}"
        )
    console.print(root)


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
