"""Print one turn as it streams; Ctrl-C cancels the turn rather than the program."""

from __future__ import annotations

import sys

from orchestration.cli.output import console, note, print_error
from orchestration.messages import StreamMessage, TurnDelta, TurnFailed, TurnFinished, TurnStarted
from orchestration.streams import TurnStream

__all__ = ["print_turn"]

FAILURE_HINTS = {
    "auth": "check the provider's credentials: orchestration auth status",
    "rate_limit": "the provider is rate limiting; wait a moment and send it again",
    "overloaded": "the provider is overloaded; send it again shortly",
    "timeout": "the provider did not answer in time; send it again",
    "connection": "the provider could not be reached; check the network or its base URL",
    "bad_request": "the provider refused the request; check the model name",
}


def print_turn(stream: TurnStream) -> StreamMessage | None:
    """Write the reply's deltas as they arrive; return the turn's last message.

    The first Ctrl-C asks the agent to cancel the turn and waits for it to end; a second one
    stops waiting.
    """
    final: StreamMessage | None = None
    cancelling = False
    while True:
        try:
            for event in stream:
                final = event if isinstance(event, TurnFinished | TurnFailed) else final
                _show(event)
            return final
        except KeyboardInterrupt:
            if cancelling:
                stream.close()
                raise
            cancelling = True
            stream.cancel()
            note("\n(cancelling the turn; Ctrl-C again to stop waiting)")


def _show(event: StreamMessage) -> None:
    if isinstance(event, TurnStarted):
        if sys.stdout.isatty():
            console.print(f"[bold cyan]{event.agent}[/] › ", end="", markup=True)
    elif isinstance(event, TurnDelta):
        sys.stdout.write(event.text)
        sys.stdout.flush()
    elif isinstance(event, TurnFinished):
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif isinstance(event, TurnFailed):
        sys.stdout.write("\n")
        sys.stdout.flush()
        if event.kind == "cancelled":
            note("(turn cancelled)")
        else:
            print_error(
                f"{event.agent}'s turn failed ({event.kind}): {event.error}",
                FAILURE_HINTS.get(event.kind, "send it again" if event.retryable else ""),
            )
