"""``observe NAME``: follow a conversation live, as a bystander: an agent's, or a room's.

It prints every message said, each reply as it streams (with its speaker's name), failed turns,
and the supervision events about the agents (a restart in the middle of the conversation shows
up where it happened). A room is shown by `RoomView`: a colour per speaker, its events as dim
``* ...`` lines. ``--from-start`` prints the conversation so far first; ``--json`` prints one
object per line (messages, stream messages and events, each with its ``type``);
``--until-ended`` stops after a room's ``conversation_ended``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer

from orchestration.cli.output import console, fail, note, print_json, to_json
from orchestration.cli.roomview import RoomView
from orchestration.messages import Envelope, TurnDelta, TurnFailed, TurnFinished
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.streams import Subscription

ENDINGS = {"conversation_ended": 0, "room_failed": 1}
"""The room events that end ``--until-ended``, and its exit code after each."""
ENDED = {"ended": 0, "failed": 1}
"""The room states in which ``--until-ended`` has nothing to wait for, and its exit code."""

Show = Callable[[Any], None]


def observe(
    name: Annotated[str, typer.Argument(help="the room or agent whose conversation to follow")],
    from_start: Annotated[
        bool, typer.Option("--from-start", help="print the conversation so far first")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    until_ended: Annotated[
        bool, typer.Option("--until-ended", help="a room: exit once its conversation ends")
    ] = False,
) -> None:
    """Follow a room or an agent's conversation live: messages, streamed replies and the
    agents' supervision events, until Ctrl-C."""
    try:
        with Runtime.connect(start=False) as runtime:
            if _is_room(runtime, name):
                show = _show_json if json else RoomView().show
                _observe_room(runtime, name, from_start, until_ended, show)
                return
            if until_ended:
                fail(f"no room named {name!r}", "--until-ended follows a room, not an agent")
            _observe_agent(runtime, name, from_start, _show_json if json else Printer().show)
    except KeyboardInterrupt:
        return


def _is_room(runtime: Runtime, name: str) -> bool:
    """Whether ``name`` is a room (else it may be an agent)."""
    try:
        runtime.room(name)
    except OrchestrationError as exc:
        if exc.code == "unknown_room":
            return False
        raise
    return True


def _observe_agent(runtime: Runtime, name: str, from_start: bool, show: Show) -> None:
    with runtime.observe(name) as feed:  # subscribed first, so nothing falls between the two
        past = runtime.history(name) if from_start else []
        for message in past:
            show(message)
        _follow(feed, {message.id for message in past}, show, f"{name}'s conversation")


def _observe_room(
    runtime: Runtime, name: str, from_start: bool, until_ended: bool, show: Show
) -> None:
    """Follow room ``name``; with ``until_ended``, exit once its conversation ends (at once if
    it has ended already)."""
    with runtime.observe_room(name) as feed:
        past = runtime.room_history(name) if from_start else []
        for message in past:
            show(message)
        if until_ended and (state := runtime.room(name).state) in ENDED:
            raise typer.Exit(ENDED[state])
        end = _follow(feed, {message.id for message in past}, show, f"room {name}", until_ended)
    if end is not None:
        raise typer.Exit(ENDINGS[str(end.event)])


def _follow(
    feed: Subscription, seen: set[str], show: Show, what: str, until_ended: bool = False
) -> Envelope | None:
    """Show what ``feed`` brings, but the messages ``seen`` already; with ``until_ended``, stop
    after a room's ending event and return it."""
    note(f"following {what}; Ctrl-C stops")
    for item in feed:
        if isinstance(item, Envelope) and item.id in seen:
            continue
        show(item)
        if until_ended and isinstance(item, Envelope) and item.event in ENDINGS:
            return item
    return None


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
