"""What every command prints: errors with their fix, JSON lines, and one shared console."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

__all__ = [
    "ago",
    "console",
    "errors",
    "event_type",
    "examples",
    "fail",
    "note",
    "print_error",
    "print_json",
    "to_json",
]

console = Console(highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)


def print_error(message: str, hint: str = "") -> None:
    """Print ``error: message`` and, indented below it, the fix, to stderr."""
    errors.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    if hint:
        errors.print(f"  [dim]{hint}[/]", markup=True, soft_wrap=True)


def fail(message: str, hint: str = "", code: int = 1) -> NoReturn:
    """Print the error and its fix, then exit non-zero."""
    print_error(message, hint)
    raise typer.Exit(code)


def examples(*commands: str) -> str:
    """A command's epilog: its example command lines, shown verbatim under ``--help``."""
    return "Examples:\n\n```\n" + "\n".join(commands) + "\n```"


def note(message: str) -> None:
    """A dim remark on stderr, kept out of the way of piped output."""
    errors.print(f"[dim]{message}[/]", markup=True, soft_wrap=True)


def event_type(message: BaseModel) -> str:
    """``TurnStarted`` -> ``turn_started``: the stable name of a message in JSON output."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(message).__name__).lower()


def to_json(message: BaseModel) -> dict[str, Any]:
    """A protocol message as a JSON object with a ``type`` field."""
    return {"type": event_type(message), **message.model_dump(mode="json")}


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def ago(moment: datetime | None) -> str:
    """``12s ago``, ``3m ago``... or ``-``."""
    if moment is None:
        return "-"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"
