"""``events [--follow]``: what the supervisors did (starts, restarts, failures, stops)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.output import console, print_json, to_json
from orchestration.messages import Envelope
from orchestration.runtime import Runtime

Json = Annotated[bool, typer.Option("--json", help="print one JSON object per line")]


def events(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new events")
    ] = False,
    limit: Annotated[int, typer.Option(help="how many past events to show")] = 20,
    json: Json = False,
) -> None:
    """Show the latest supervision events; with --follow, keep showing them as they happen."""
    with Runtime.connect() as runtime:
        for event in runtime.events(limit=limit):
            _show(event, json)
        if not follow:
            return
        try:
            for item in runtime.watch():
                if isinstance(item, Envelope) and item.kind == "event":
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
    app.command()(events)
