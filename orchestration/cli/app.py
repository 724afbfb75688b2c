"""The Typer application: each command's module is imported only when that command runs (or
help lists it), so a command pays for its own imports alone; errors become one-line fixes."""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_group

__all__ = ["COMMANDS", "LazyCommands", "app", "main"]

COMMANDS: dict[str, str] = {
    "up": "daemon",
    "down": "daemon",
    "status": "daemon",
    "service": "service",
    "spawn": "agents",
    "list": "agents",
    "send": "agents",
    "history": "agents",
    "shutdown": "agents",
    "chat": "chat",
    "room": "rooms",
    "join": "join",
    "observe": "observe",
    "events": "events",
    "tree": "tree",
    "config": "config",
    "auth": "config",
    "serve": "serve",
    "mcp": "mcp",
    "workflow": "workflow",
    "journal": "journal",
    "doctor": "doctor",
}
"""Every command (or command group), in help order, and the module under
``orchestration.cli`` whose ``register(app)`` defines it."""


MARKUP = "markdown"
"""Help is Markdown: a docstring's paragraphs are reflowed to the terminal's width."""


class LazyCommands(TyperGroup):
    """The top-level group: resolves a command by importing its module on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        group = typer.Typer(rich_markup_mode=MARKUP)
        importlib.import_module(f"orchestration.cli.{module}").register(group)
        return get_group(group).get_command(ctx, cmd_name)


app = typer.Typer(
    name="orchestration",
    help="Supervised teams of LLM agents on an actor runtime.",
    cls=LazyCommands,
    rich_markup_mode=MARKUP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _top() -> None:
    """Supervised teams of LLM agents on an actor runtime."""


def main() -> None:
    """Entry point of the ``orchestration`` script and of ``python -m orchestration.cli``."""
    gc.freeze()
    gc.enable()
    from orchestration.errors import DaemonError, OrchestrationError, SettingsError

    try:
        app()
    except (OrchestrationError, DaemonError) as exc:
        from orchestration.cli.output import print_error

        print_error(str(exc), exc.hint)
        sys.exit(1)
    except SettingsError as exc:
        from orchestration.cli.output import print_error

        print_error(f"bad settings: {exc}", "fix the ORCH_* variable or orchestration.toml above")
        sys.exit(2)
