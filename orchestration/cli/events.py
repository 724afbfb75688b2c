"""``events [-n N] [--follow]``: what the supervisors did (starts, restarts, failures, stops).

Like ``tail``: the last N journaled supervision events; with ``--follow``, then the new ones as
they happen. It subscribes before it reads the journal, so no event falls between the two, and
none is printed twice.
"""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.output import console, examples, note, print_json, to_json
from orchestration.messages import Envelope
from orchestration.runtime import Runtime

__all__ = ["events", "register"]

LINES = 20
"""How many of the latest events ``events`` prints."""
EPILOG = examples(
    "orchestration events                 # the last 20 events",
    "orchestration events -n 3 --follow   # the last 3, then the new ones live",
    "orchestration events -n 0 -f --json  # only the new ones, as JSON lines",
)

Json = Annotated[bool, typer.Option("--json", help="print one JSON object per line")]


def events(
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="print the last N events")
    ] = LINES,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="then keep printing new events")
    ] = False,
    json: Json = False,
) -> None:
    """Show the latest supervision events of the agents and supervisors.

    Starts, restarts, failures, stops, escalations: the last N of them, oldest
    first; with --follow, then each new one as it happens, until Ctrl-C.
    """
    with Runtime.connect() as runtime:
        if not follow:
            for event in runtime.events(limit=lines):
                _show(event, json)
            return
        try:
            with runtime.watch() as feed:  # subscribed first, so no event falls in between
                past = runtime.events(limit=lines)
                for event in past:
                    _show(event, json)
                shown = {event.id for event in past}
                note("following the supervision events; Ctrl-C stops")
                for item in feed:
                    if isinstance(item, Envelope) and item.kind == "event" and item.id not in shown:
                        _show(item, json)
        except KeyboardInterrupt:
            return


def _show(event: Envelope, json: bool) -> None:
    if json:
        print_json(to_json(event))
        return
    stamp = event.created_at.astimezone().strftime("%H:%M:%S")
    console.print(f"[dim]{stamp}[/] [bold]{event.event}[/] ", end="", markup=True)
    console.print(event.content, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(epilog=EPILOG)(events)
