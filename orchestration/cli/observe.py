"""``observe NAME``: a room's or an agent's conversation, like ``tail -f``.

It prints the last messages and events of the conversation (``-n``, or all with
``--from-start``), then follows it live: every message said, each reply as it streams (with
its speaker's name), failed turns, and the supervision events about the agents (a restart in
the middle of the conversation shows up where it happened). It subscribes before it reads the
journal, so nothing said in between is missed, and prints nothing twice.

A room whose conversation has ended (or failed) is printed with its ending, and ``observe``
exits (0 when it ended, 1 when it failed); a live room is followed until it ends, then the
same. ``--follow`` keeps waiting across endings, for a ``room resume``. An agent's
conversation never ends: it is followed until Ctrl-C.

A room is shown by `RoomView`: a colour per speaker, its events as dim ``* ...`` lines.
``--json`` prints one object per line (messages, stream messages and events, each with its
``type``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import Annotated, Any

import typer

from orchestration.cli.output import console, examples, fail, note, print_json, to_json
from orchestration.cli.roomview import RoomView
from orchestration.conversation_ids import kind_of
from orchestration.messages import (
    Envelope,
    HistoryPage,
    RoomState,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.streams import Subscription

__all__ = ["observe", "register"]

LINES = 20
"""How many of the latest messages and events ``observe`` prints before it follows."""
ENDINGS = {
    "conversation_ended": 0,
    "room_failed": 1,
    "workflow_finished": 0,
    "workflow_failed": 1,
}
"""The events that end a room's or a workflow run's observation, and the exit code after each."""
ENDED = {"ended": 0, "failed": 1}
"""The room states in which there is nothing to wait for, and the exit code."""
EPILOG = examples(
    "orchestration observe standup              # the last 20, live until it ends",
    "orchestration observe standup -n 0 --json  # only what comes, as JSON lines",
    "orchestration observe standup --from-start --follow  # all; wait for resumes",
    "orchestration observe coder -n 5           # an agent's DM: until Ctrl-C",
)

Show = Callable[[Any], None]
Read = Callable[..., HistoryPage]
"""A conversation's ``history_page`` (``limit``, ``after_seq``, ``newest``)."""


def observe(
    name: Annotated[str, typer.Argument(help="the room or agent whose conversation to show")],
    lines: Annotated[
        int,
        typer.Option(
            "--lines", "-n", min=0, help="print the last N messages and events, then follow"
        ),
    ] = LINES,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="print the whole conversation, then follow")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="a room: keep waiting after it ends (for a resume)"),
    ] = False,
    until_ended: Annotated[
        bool,
        typer.Option("--until-ended", help="a room: exit once it ends (the default; for scripts)"),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Show the end of a conversation, then follow it live.

    NAME is a room, an agent (its direct conversation) or a workflow run
    (workflow:NAME:RUN, followed until it ends). Prints the last N
    messages and events, then what is said, each reply as it streams, and the
    agents' supervision events. A room that has ended is printed with its ending,
    then observe exits (1 if the room failed); a live room is followed until it
    ends. An agent's conversation is followed until Ctrl-C.
    """
    if follow and until_ended:
        fail("--follow and --until-ended contradict each other", "give one of them", code=2)
    last = None if from_start else lines
    try:
        with Runtime.connect(start=False) as runtime:
            if kind_of(name) == "workflow":
                _observe_run(runtime, name, last, _show_json if json else Printer().show)
                return
            if _is_room(runtime, name):
                show = _show_json if json else RoomView().show
                _observe_room(runtime, name, last, follow, show)
                return
            if until_ended:
                fail(f"no room named {name!r}", "--until-ended follows a room, not an agent")
            _observe_agent(runtime, name, last, _show_json if json else Printer().show)
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


def _observe_agent(runtime: Runtime, name: str, last: int | None, show: Show) -> None:
    """Print the last ``last`` (None: all) of agent ``name``'s conversation, then follow it."""
    with runtime.observe(name) as feed:  # subscribed first, so nothing falls between the two
        past = _past(partial(runtime.history_page, name), last)
        for message in past:
            show(message)
        _follow(feed, Shown(past), show, f"{name}'s conversation", until_ended=False)


def _observe_room(runtime: Runtime, name: str, last: int | None, follow: bool, show: Show) -> None:
    """Print the last ``last`` (None: all) of room ``name``, with its ending if it has ended,
    then follow it; exit once it ends, unless ``follow``."""
    with runtime.observe_room(name) as feed:  # subscribed first, so nothing falls between
        state: RoomState = runtime.room(name).state  # an ending before this is journaled
        read = partial(runtime.room_history_page, name)
        past = _past(read, last)
        if state in ENDED and not any(message.event in ENDINGS for message in past):
            past = [*_last_ending(read), *past]  # it came before the last ``last``
        for message in past:
            show(message)
        if state in ENDED and not follow:
            raise typer.Exit(ENDED[state])
        end = _follow(feed, Shown(past), show, f"room {name}", until_ended=not follow)
    if end is not None:
        raise typer.Exit(ENDINGS[str(end.event)])


def _observe_run(runtime: Runtime, conversation: str, last: int | None, show: Show) -> None:
    """Print the last ``last`` (None: all) of a workflow run, then follow it until it ends;
    exit 0 once it finished, 1 if it failed."""
    with runtime.observe_run(conversation) as feed:  # subscribed first, as for the others
        read = partial(runtime.conversation_page, conversation)
        latest = read(limit=1, newest=True).messages
        if not latest:
            fail(f"no workflow run {conversation!r}", "see orchestration workflow runs")
        past = _past(read, last)
        end = latest[0] if latest[0].event in ENDINGS else None
        if end is not None and end.id not in {message.id for message in past}:
            past = [*past, end]  # -n 0 still shows how it ended
        for message in past:
            show(message)
        if end is None:
            end = _follow(feed, Shown(past), show, f"run {conversation}", until_ended=True)
    if end is not None:
        raise typer.Exit(ENDINGS[str(end.event)])


def _past(read: Read, last: int | None) -> list[Envelope]:
    """The last ``last`` messages and events of a conversation (None: all), oldest first."""
    if last is None:
        return list(_journal(read))
    return read(limit=last, newest=True).messages


def _journal(read: Read) -> Iterator[Envelope]:
    """Every message and event of a conversation, oldest first, a page at a time."""
    after = 0
    while (page := read(after_seq=after)).messages:
        yield from page.messages
        after = page.last_seq


def _last_ending(read: Read) -> list[Envelope]:
    """The room's latest ending event (none if it has none), read from its whole journal."""
    endings = [message for message in _journal(read) if message.event in ENDINGS]
    return endings[-1:]


class Shown:
    """What the journal's part printed, so the live feed prints none of it again: its
    messages by id, and the turns whose reply or failure it held (their stream, too)."""

    def __init__(self, past: list[Envelope]) -> None:
        self.ids = {message.id for message in past}
        self.turns = {message.data["turn_id"] for message in past if "turn_id" in message.data}

    def again(self, item: Any) -> bool:
        """Whether ``item`` of the feed was printed already."""
        if isinstance(item, Envelope):
            return item.id in self.ids
        if isinstance(item, TurnStarted | TurnDelta | TurnFinished | TurnFailed):
            return item.turn_id in self.turns
        return False


def _follow(
    feed: Subscription, shown: Shown, show: Show, what: str, *, until_ended: bool
) -> Envelope | None:
    """Show what ``feed`` brings but what was ``shown``; with ``until_ended``, stop after a
    room's ending event (printed already or not: the feed only brings new ones) and return
    it."""
    note(f"following {what}; Ctrl-C stops")
    for item in feed:
        if not shown.again(item):
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
    app.command(epilog=EPILOG)(observe)
