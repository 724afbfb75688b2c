"""Providers backed by a program: what starts an agent's long-lived OS process, and the base of
the wire protocols it speaks (the ``jsonl`` and ``lines`` ones are in `providers.command`).

A process provider (``process = True``) does not stream a request itself: the agent actor
starts the process it describes (`ProcessCommand`), writes each turn to its stdin with
`ProcessProtocol.encode` and hands every stdout line to `ProcessProtocol.decode`, which turns it
into the same events an API provider yields (`TextDelta`, then one `StreamEnd`) or into a
`ProcessFailure` that fails the turn. Protocols are pure: no I/O, so they are unit-tested on
bytes alone.

A process provider has, besides ``validate()``: ``check(spec)``, run once when an agent is
spawned (can its program run?); ``protocol(model)``; and ``command(spec, resume)``, the
program to start, called at every start of the agent and never slow.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestration.messages import AgentSpec, ErrorKind
from orchestration.providers.base import (
    BadRequestError,
    LLMProvider,
    ProviderRequest,
    StreamEnd,
    TextDelta,
)

__all__ = [
    "MAX_LINE_BYTES",
    "ProcessCommand",
    "ProcessEvent",
    "ProcessFailure",
    "ProcessLog",
    "ProcessProtocol",
    "ProgramProvider",
    "check_program",
    "new_input",
]

MAX_LINE_BYTES = 1_048_576
"""A longer stdout line fails the turn instead of growing without bound."""


@dataclass(frozen=True)
class ProcessCommand:
    """How to start the agent's process: an argument list (never a shell string)."""

    argv: tuple[str, ...]
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Variables to set on top of the daemon's environment."""
    unset: tuple[str, ...] = ()
    """Variables to remove from the daemon's environment."""


@dataclass(frozen=True)
class ProcessFailure:
    """The process said the turn failed, or said something that cannot be understood."""

    message: str
    kind: ErrorKind = "bad_request"
    retryable: bool = False


@dataclass(frozen=True)
class ProcessLog:
    """Something worth telling the user about the process (not part of the reply): published
    as an ``agent_log`` event, like its stderr."""

    text: str


ProcessEvent = TextDelta | StreamEnd | ProcessFailure | ProcessLog


class ProcessProtocol(ABC):
    """How turns go in and replies come out of one kind of process."""

    idle_timeout: float | None = None
    """Seconds of silence after which the turn ends (`idle_end`); None: no such rule."""
    replay = False
    """Set when the program lost its memory (a session that could not be resumed): the next
    `encode` must carry the whole conversation, and then clears it."""

    @abstractmethod
    def encode(self, request: ProviderRequest) -> bytes:
        """The bytes to write to stdin for this turn (its last message is the new one)."""

    @abstractmethod
    def decode(self, line: bytes) -> list[ProcessEvent]:
        """The events one stdout line (without its newline) means for the current turn."""

    def idle_end(self) -> list[ProcessEvent]:
        """What the turn ends with when the process has been silent for `idle_timeout`."""
        return []


def check_program(command: ProcessCommand) -> None:
    """Raise `BadRequestError` unless the command's program can be run (found on PATH, or a
    path to an executable file, relative to the command's ``cwd``) and its ``cwd`` exists."""
    if command.cwd is not None and not Path(command.cwd).is_dir():
        raise BadRequestError(
            f"--cwd {command.cwd} is not a directory", hint="pick an existing one"
        )
    program = command.argv[0]
    if os.sep in program:
        path = Path(command.cwd or ".", program)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BadRequestError(
                f"{program} is not an executable file (looked in {path.parent.resolve()})",
                hint="give its full path, or chmod +x it",
            )
    elif shutil.which(program) is None:
        raise BadRequestError(
            f"program {program!r} was not found on the daemon's PATH",
            hint="give its full path, or install it; the daemon has the PATH of the shell that "
            "started it",
        )


def new_input(request: ProviderRequest) -> str:
    """The text to write to a long-lived program for this turn: the request's new turns,
    joined by a blank line."""
    new = request.messages[len(request.messages) - request.new_turns :]
    return "\n\n".join(turn.content for turn in new)


class ProgramProvider(LLMProvider, Protocol):
    """A provider whose agents run an OS program (``process = True``): see the module doc."""

    def check(self, spec: AgentSpec) -> None:
        """Raise if the program ``spec`` names cannot run; run once, when it is spawned."""
        ...

    def protocol(self, model: str) -> ProcessProtocol:
        """The wire protocol the program for ``model`` speaks."""
        ...

    def command(self, spec: AgentSpec, resume: str | None = None) -> ProcessCommand:
        """The program to start for ``spec``, resuming session ``resume`` if given."""
        ...
