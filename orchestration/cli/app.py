"""The Typer application: command groups are registered here; errors become one-line fixes."""

from __future__ import annotations

import gc
import sys

import typer

from orchestration.cli import (
    agents,
    chat,
    config,
    daemon,
    events,
    join,
    mcp,
    observe,
    rooms,
    serve,
    tree,
)
from orchestration.cli.output import print_error
from orchestration.runtime import OrchestrationError
from orchestration.settings import SettingsError
from orchestration.system import DaemonError

app = typer.Typer(
    name="orchestration",
    help="Supervised teams of LLM agents on an actor runtime.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (daemon, agents, chat, rooms, join, observe, events, config, tree, serve, mcp):
    group.register(app)


def main() -> None:
    """Entry point of the ``orchestration`` script and of ``python -m orchestration.cli``."""
    gc.freeze()
    gc.enable()
    try:
        app()
    except (OrchestrationError, DaemonError) as exc:
        print_error(str(exc), exc.hint)
        sys.exit(1)
    except SettingsError as exc:
        print_error(f"bad settings: {exc}", "fix the ORCH_* variable or orchestration.toml above")
        sys.exit(2)
