"""``observe NAME``: follow a conversation live, as a bystander.

It prints every message said, each reply as it streams (with its speaker's name), failed turns,
and the supervision events about the agent (a restart in the middle of the conversation shows
up where it happened). ``--from-start`` prints the conversation so far first; ``--json``
prints one object per line (messages, stream messages and events, each with its ``type``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from orchestration.cli.output import console, note, print_json, to_json
from orchestration.messages import Envelope, TurnDelta, TurnFailed, TurnFinished
from orchestration.runtime import Runtime


def observe(
    name: Annotated[str, typer.Argument(help="the agent whose conversation to follow")],
    from_start: Annotated[
        bool, typer.Option("--from-start", help="print the conversation so far first")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Follow a conversation live: messages, streamed replies and the agent's supervision
    events, until Ctrl-C."""
    show = _show_json if json else Printer().show
    with Runtime.connect(start=False) as runtime, runtime.observe(name) as feed:
        seen: set[str] = set()
        if from_start:  # subscribed first, so nothing falls between the two
            for message in runtime.history(name):
                seen.add(message.id)
                show(message)
        note(f"following {name}'s conversation; Ctrl-C stops")
        try:
            for item in feed:
                if not (isinstance(item, Envelope) and item.id in seen):
                    show(item)
        except KeyboardInterrupt:
            return


def _show_json(item: Any) -> None:
    print_json(to_json(item))


class Printer:
    """Text output: a message per line, a streamed reply as it comes, events dimmed."""

    def __init__(self) -> None:
        self.streaming: str | None = None  # the turn whose reply is being printed

    def show(self, item: Any) -> None:
        if isinstance(item, TurnDelta):
            if self.streaming != item.turn_id:
                self._end_line()
                self.streaming = item.turn_id
                console.print(f"[bold cyan]{item.agent}[/] › ", end="", markup=True)
            sys.stdout.write(item.text)
            sys.stdout.flush()
        elif isinstance(item, TurnFinished):
            if self.streaming == item.turn_id:
                self.streaming = None
                sys.stdout.write("\n")
                sys.stdout.flush()
            else:
                self._said(item.message)
        elif isinstance(item, TurnFailed):
            self._end_line()
            console.print(
                f"[bold red]{item.agent}'s turn failed[/] ({item.kind}): ", end="", markup=True
            )
            console.print(item.error, markup=False, soft_wrap=True)
        elif isinstance(item, Envelope):
            self._said(item)

    def _said(self, message: Envelope) -> None:
        self._end_line()
        stamp = message.created_at.astimezone().strftime("%H:%M:%S")
        if message.kind == "event":
            console.print(f"[dim]{stamp} · {message.event}: ", end="", markup=True)
            console.print(message.content, markup=False, soft_wrap=True, style="dim")
            return
        console.print(f"[dim]{stamp}[/] [bold]{message.sender}[/]: ", end="", markup=True)
        console.print(message.content, markup=False, soft_wrap=True)

    def _end_line(self) -> None:
        """Close a reply cut off mid-stream before printing something else."""
        if self.streaming is not None:
            self.streaming = None
            sys.stdout.write("\n")
            sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command()(observe)
