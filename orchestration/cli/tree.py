"""``tree``: draw the live supervision tree; ``tree validate FILE``: check a tree file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from orchestration.cli.output import ago, console, errors, examples
from orchestration.messages import AgentInfo, SupervisorInfo
from orchestration.runtime import Runtime
from orchestration.tree_files import validate_tree_file

__all__ = ["register", "tree"]

tree = typer.Typer(help="The live supervision tree, and tree files.")
STATE_STYLES = {
    "idle": "green",
    "running": "green",
    "processing": "cyan",
    "starting": "yellow",
    "restarting": "yellow",
    "stopping": "yellow",
    "failed": "bold red",
}


@tree.callback(
    invoke_without_command=True,
    epilog=examples("orchestration tree", "orchestration tree validate team.yaml"),
)
def show(context: typer.Context) -> None:
    """Draw the running tree: supervisors with strategy, restart window and state; agents with
    model, state, PID, restart type and restarts."""
    if context.invoked_subcommand is not None:
        return
    with Runtime.connect(start=False) as runtime:
        snapshot = runtime.tree()
        live = {agent.spec.name: agent for agent in runtime.list()}
    root, *supervisors = snapshot.supervisors
    drawn = Tree(_supervisor_label(root))
    branches = {root.name: drawn}
    for supervisor in supervisors:  # parents are reported before their children
        parent = branches.get(supervisor.parent or "", drawn)
        branches[supervisor.name] = parent.add(_supervisor_label(supervisor))
    for agent in snapshot.agents:
        branches.get(agent.supervisor, drawn).add(_agent_label(live.get(agent.spec.name, agent)))
    console.print(drawn)


def _supervisor_label(supervisor: SupervisorInfo) -> str:
    style = STATE_STYLES.get(supervisor.state, "dim")
    window = f"at most {supervisor.intensity} restart(s) in {supervisor.period} s"
    if supervisor.parent is None:
        window = f"at most {supervisor.intensity} restart(s) per child in {supervisor.period} s"
    label = (
        f"[bold]{supervisor.name}[/]  {supervisor.strategy} · {window}  "
        f"[{style}]{supervisor.state}[/]  pid {supervisor.pid or '-'}"
    )
    if supervisor.parent is not None:
        label += f"  {supervisor.restart}  restarts {supervisor.restarts}"
    return label + _error(supervisor.last_error, supervisor.state)


def _agent_label(agent: AgentInfo) -> str:
    style = STATE_STYLES.get(agent.state, "dim")
    program = f" (program {agent.process_pid})" if agent.process_pid else ""
    return (
        f"[bold]{agent.spec.name}[/]  {escape(agent.spec.model_ref)}  [{style}]{agent.state}[/]  "
        f"pid {agent.pid or '-'}{program}  {agent.restart}  restarts {agent.restarts}  "
        f"turns {agent.turns}  last {ago(agent.last_activity)}"
    ) + _error(agent.last_error, agent.state)


def _error(error: str, state: str) -> str:
    return f"\n[red]{escape(error)}[/]" if error and state in ("failed", "terminated") else ""


@tree.command(epilog=examples("orchestration tree validate examples/research-team.yaml"))
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
