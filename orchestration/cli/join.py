"""``join ROOM``: take part in a room as a human, from a terminal or a script.

It shows the room live as ``observe`` does (`RoomView`) and reads stdin line by line: a plain
line is said in the room as the human, a line starting with ``/`` is a command (``/help`` lists
them). Nothing needs a terminal, so a script can drive it through a pipe, and several humans can
join one room from their own terminals.

A thread reads stdin while the main thread follows the room. ``/quit`` and the end of stdin
interrupt the main thread as Ctrl-C does, so every way out closes the room's subscription in
the thread that opened it (a Thespian endpoint must not be shared by threads).
"""

from __future__ import annotations

import _thread
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Annotated, Literal, cast, get_args

import typer

from orchestration.cli.output import console, examples, note, print_error
from orchestration.cli.rooms import acted, answered, member_label, status
from orchestration.cli.roomview import RoomView
from orchestration.errors import DaemonError
from orchestration.messages import DEFAULT_HUMAN, Envelope, HumanMode, Member, Pending, RoomInfo
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.streams import Subscription

__all__ = ["join", "register"]

HELP = """\
a plain line is said in the room as you
/approve, /edit TEXT, /skip     answer the reply that waits for approval
/mode free|moderated|prompted   set what the humans control
/pause, /resume, /stop          steer the room
/who                            the members and their states
/quit (or Ctrl-D)               leave"""
HINTS = {"approval": "/approve, /edit TEXT or /skip", "input": "the agents wait for you"}
"""What a human is told when the room pauses for it, by the kind of pause."""
PAUSES: dict[str, Literal["approval", "input"]] = {
    "approval_needed": "approval",
    "input_needed": "input",
}
"""The events of a room that pause it for a human, and the kind of pause each opens."""


def join(
    room: Annotated[str, typer.Argument(help="the room")],
    human: Annotated[str, typer.Option("--as", help="your name in the room")] = DEFAULT_HUMAN,
    mode: Annotated[
        HumanMode | None, typer.Option(help="set the room's human mode: free, moderated, prompted")
    ] = None,
) -> None:
    """Join a room as a human: watch it live and talk; /help lists the commands."""
    try:
        with Runtime.connect() as runtime, runtime.observe_room(room) as feed:
            info = runtime.join_room(room, human)
            if mode is not None:
                info = runtime.set_mode(room, mode)
            note(f"joined {room} as {human} (mode {info.spec.mode}); /help for commands")
            session = Session(runtime, room, human)
            session.announce(info.pending)
            threading.Thread(target=session.read, args=(sys.stdin,), daemon=True).start()
            session.follow(feed)
    except KeyboardInterrupt:
        return


class Session:
    """One human in one room: shows the room, says what is typed and runs the commands."""

    def __init__(self, runtime: Runtime, room: str, human: str) -> None:
        self.runtime = runtime
        self.room = room
        self.human = human
        self.view = RoomView()
        self.announced: set[str] = set()  # pauses already shown, by id
        self.commands: dict[str, Callable[[str], str]] = {
            "/approve": lambda _: self._answer("approve"),
            "/edit": lambda text: self._answer("edit", text),
            "/skip": lambda _: self._answer("skip"),
            "/mode": self._mode,
            "/pause": lambda _: acted("paused", self.runtime.room(self.room, "pause")),
            "/resume": lambda _: acted("resumed", self.runtime.room(self.room, "resume")),
            "/stop": lambda _: acted("stopped", self.runtime.room(self.room, "stop")),
            "/who": lambda _: self._who(),
            "/help": lambda _: HELP,
        }

    # --- the main thread: the room -------------------------------------------------------------

    def follow(self, feed: Subscription) -> None:
        """Show the room until the feed ends; tell the human when the room waits for them."""
        for item in feed:
            self.view.show(item)
            if isinstance(item, Envelope) and item.event in PAUSES:
                self._paused(item)

    def announce(self, pending: list[Pending]) -> None:
        """Show each pause not shown yet: the reply to approve, and what to type."""
        for pause in pending:
            if pause.id not in self.announced:
                self.announced.add(pause.id)
                self.view.draft(pause, HINTS[pause.kind])

    def _paused(self, event: Envelope) -> None:
        """The room paused for a human: show the draft (``Pending.id`` is the event's id)."""
        found = [pause for pause in self.runtime.room(self.room).pending if pause.id == event.id]
        self.announce(found or [Pending(id=event.id, kind=PAUSES[str(event.event)])])

    # --- the stdin thread: what the human types ------------------------------------------------

    def read(self, lines: Iterable[str]) -> None:
        """Answer each line; at /quit or the end of input, end the session (as Ctrl-C does)."""
        try:
            for line in lines:
                if not self.handle(line.strip()):
                    return
        finally:
            _thread.interrupt_main()

    def handle(self, line: str) -> bool:
        """Say a plain line in the room or run a command; False at /quit. A refused line is
        reported and the session goes on."""
        if line in ("/quit", "/exit"):
            return False
        try:
            answer = self._run(line)
        except (OrchestrationError, DaemonError) as exc:
            with self.view.aside():
                print_error(str(exc), exc.hint)
        else:
            if answer:
                with self.view.aside():
                    console.print(answer, markup=False, soft_wrap=True)
        return True

    def _run(self, line: str) -> str:
        if not line:
            return ""
        if not line.startswith("/"):
            self.runtime.say(self.room, line, sender=self.human)
            return ""
        name, _, rest = line.partition(" ")
        command = self.commands.get(name)
        if command is None:
            raise OrchestrationError("unknown_command", f"no command {name}", "/help lists them")
        return command(rest.strip())

    def _answer(self, action: str, text: str = "") -> str:
        if action == "edit" and not text:
            raise OrchestrationError("invalid_message", "/edit needs the new text", "/edit TEXT")
        info = self.runtime.approve(self.room, action, content=text, by=self.human)
        return answered(action, info)

    def _mode(self, mode: str) -> str:
        modes = get_args(HumanMode)
        if mode not in modes:
            raise OrchestrationError(
                "invalid_room", f"no mode {mode!r}", f"/mode {' | '.join(modes)}"
            )
        info = self.runtime.set_mode(self.room, cast(HumanMode, mode))
        return f"{self.room}: mode {info.spec.mode}"

    def _who(self) -> str:
        info = self.runtime.room(self.room)
        states = {agent.spec.name: agent.state for agent in self.runtime.list()}
        lines = [f"{self.room}: {status(info)}, mode {info.spec.mode}"]
        lines += [f"  {member_label(m)} {_state(m, info, states)}" for m in info.spec.members]
        return "\n".join(line.rstrip() for line in lines)


def _state(member: Member, info: RoomInfo, states: dict[str, str]) -> str:
    """An agent's state (``speaking`` while its turn in this room runs); nothing for a human."""
    if member.kind != "agent":
        return ""
    return "speaking" if member.name in info.busy else states.get(member.name, "gone")


def register(app: typer.Typer) -> None:
    app.command(
        epilog=examples(
            "orchestration join standup --as alice", "orchestration join standup --mode moderated"
        )
    )(join)
