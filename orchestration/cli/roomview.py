"""How a room looks in a terminal: who says what, each reply as it streams, what the room reports.

`RoomView` prints what `Runtime.observe_room` delivers, or a room's history: each speaker's name
in a colour of its own before what it says, and the room's events as dim ``* ...`` lines.
``observe ROOM``, ``join ROOM`` and ``room history`` share it. Colours follow the console: none
when stdout is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.markup import escape

from orchestration.cli.output import console
from orchestration.messages import Envelope, Pending, TurnDelta, TurnFailed, TurnFinished

__all__ = ["RoomView", "speaker_style"]

PALETTE = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "bright_red",
    "bright_cyan",
    "bright_magenta",
    "bright_green",
    "bright_blue",
)


def speaker_style(name: str) -> str:
    """The style of ``name``: the same colour in every process (crc32, not the salted hash)."""
    return f"bold {PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]}"


@dataclass
class _Held:
    """A reply that streams while another one is on screen: its text so far, and its end."""

    agent: str
    text: list[str]
    end: TurnFinished | TurnFailed | None = None


class RoomView:
    """Prints a room's messages, streamed replies and events; two threads may share it.

    One reply streams on screen at a time: the replies of other agents streaming meanwhile are
    held, then printed in turn once the one on screen ends. A reply streamed here is printed
    once: its journaled message (``data["turn_id"]``) is skipped, unless a human edited it
    (then it is printed again, marked ``(edited)``). ``stamps`` puts the time before each
    journaled message; ``deliveries`` puts after it who it was delivered to.
    """

    def __init__(self, *, stamps: bool = False, deliveries: bool = False) -> None:
        self._stamps = stamps
        self._deliveries = deliveries
        self._lock = threading.Lock()
        self._live: str | None = None  # the turn streaming on screen
        self._open = False  # its line is open: the speaker's name is printed
        self._held: dict[str, _Held] = {}
        self._streamed: dict[str, str] = {}  # turn id -> its final text, until its message comes

    def show(self, item: Any) -> None:
        """Print one item of the feed (stream messages, messages, events)."""
        with self._lock:
            if isinstance(item, TurnDelta):
                self._delta(item)
            elif isinstance(item, TurnFinished | TurnFailed):
                self._ended(item)
            elif isinstance(item, Envelope):
                self._message(item)

    def draft(self, pending: Pending, hint: str) -> None:
        """Print what a pause of the room waits for (the reply to approve, if any), then
        ``hint``."""
        with self._lock:
            self._break()
            if pending.content:
                self._speaker(pending.agent, " (draft)")
                console.print(pending.content, markup=False, soft_wrap=True)
            console.print(hint, markup=False, soft_wrap=True, style="bold")

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Hold the screen to print something else: a command's answer, an error."""
        with self._lock:
            self._break()
            yield

    # --- streamed replies ----------------------------------------------------------------------

    def _delta(self, delta: TurnDelta) -> None:
        if self._live is None:
            self._live = delta.turn_id
        if delta.turn_id != self._live:
            self._held.setdefault(delta.turn_id, _Held(delta.agent, [])).text.append(delta.text)
            return
        if not self._open:
            self._speaker(delta.agent)
            self._open = True
        _write(delta.text)

    def _ended(self, end: TurnFinished | TurnFailed) -> None:
        if isinstance(end, TurnFinished):
            self._streamed[end.turn_id] = end.message.content
        if end.turn_id in self._held:
            self._held[end.turn_id].end = end
        elif end.turn_id == self._live:
            self._break()
            self._live = None
            _failure(end)
            self._release()
        elif isinstance(end, TurnFailed):
            self._break()
            _failure(end)

    def _release(self) -> None:
        """Print the held replies in turn: whole if they ended, else live from here on."""
        while self._held and self._live is None:
            turn_id = next(iter(self._held))
            held = self._held.pop(turn_id)
            self._speaker(held.agent)
            _write("".join(held.text))
            if held.end is None:
                self._live, self._open = turn_id, True
                return
            _write("\n")
            _failure(held.end)

    def _break(self) -> None:
        """End the streaming line, so something else can be printed (the name comes again)."""
        if self._open:
            self._open = False
            _write("\n")

    # --- journaled messages and events ---------------------------------------------------------

    def _message(self, message: Envelope) -> None:
        if message.kind == "control":
            return
        if message.kind == "event":
            self._event(message)
            return
        mark = ""
        turn_id = message.data.get("turn_id")
        if turn_id in self._streamed:
            if self._streamed.pop(turn_id) == message.content:
                return
            mark = " (edited)"
        self._break()
        self._stamp(message)
        self._speaker(message.sender, mark)
        console.print(message.content, markup=False, soft_wrap=True, end="")
        self._end_line(message, always=True)

    def _event(self, message: Envelope) -> None:
        """``* conversation_ended: ...``, with ``data["reason"]`` if the text lacks it."""
        self._break()
        self._stamp(message)
        text = f"* {message.event}: {message.content}"
        reason = str(message.data.get("reason") or "")
        if reason and reason not in message.content:
            text += f" ({reason})"
        console.print(text, markup=False, soft_wrap=True, style="dim", end="")
        self._end_line(message, always=False)

    def _stamp(self, message: Envelope) -> None:
        if self._stamps:
            stamp = message.created_at.astimezone().strftime("%H:%M:%S")
            console.print(f"[dim]{stamp}[/] ", end="", markup=True)

    def _end_line(self, message: Envelope, *, always: bool) -> None:
        """End a message's line; with ``deliveries``, after who it was delivered to
        (``→ nobody`` only if ``always``)."""
        if self._deliveries and (always or message.delivered_to):
            names = ", ".join(message.delivered_to) or "nobody"
            console.print(f"  → {names}", markup=False, soft_wrap=True, style="dim", end="")
        console.print()

    def _speaker(self, name: str, note: str = "") -> None:
        console.print(f"[{speaker_style(name)}]{escape(name)}[/]{note} › ", end="", markup=True)


def _failure(end: TurnFinished | TurnFailed) -> None:
    """Say that a turn failed (nothing for one that finished)."""
    if isinstance(end, TurnFailed):
        console.print(f"[bold red]{end.agent}'s turn failed[/] ({end.kind}): ", end="", markup=True)
        console.print(end.error, markup=False, soft_wrap=True)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
