"""Ctrl-C held back while Thespian's transport runs, so that it can never wedge an endpoint.

Thespian's transport marks itself busy when a call enters it and clears the mark only when the
call returns normally (`asyncTransportBase.exclusive_processing` has no ``finally``). A
KeyboardInterrupt raised inside leaves the mark set, and every later call on that endpoint
spins forever: a Ctrl-C in `chat` could hang the cancel it asked for. So, on the main thread
and while Python's own SIGINT handler is installed, a SIGINT that arrives during a call is
recorded and raised as KeyboardInterrupt once the call has returned; listens are cut into
`SLICE`-second pieces so that Ctrl-C is still felt at once.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Endpoint", "interrupts_held", "private"]

SLICE = 0.2
"""The longest a listen runs with Ctrl-C held back."""


def _raises_on_ctrl_c() -> bool:
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


@contextmanager
def _recorded() -> Iterator[list[int]]:
    """Record Ctrl-C in the list it yields, rather than raise, until the block has ended."""
    caught: list[int] = []
    if not _raises_on_ctrl_c():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Delay a KeyboardInterrupt from Ctrl-C until the block has ended."""
    with _recorded() as caught:
        yield
    if caught:
        raise KeyboardInterrupt


class Endpoint:
    """A Thespian endpoint (an ``ActorSystem`` or one of its ``private()`` ones) whose calls
    Ctrl-C cannot break in the middle."""

    def __init__(self, endpoint: Any) -> None:
        self._endpoint = endpoint
        self._kept: Any = None  # received as Ctrl-C came: the next listen returns it

    def tell(self, to: Any, message: Any) -> None:
        with interrupts_held():
            self._endpoint.tell(to, message)

    def ask(self, to: Any, message: Any, timeout: float) -> Any:
        """Send ``message`` and return the first reply: None after ``timeout`` seconds, or at
        once if ``to`` is dead. Ctrl-C is felt when it returns."""
        with interrupts_held():
            return self._endpoint.ask(to, message, timeout)

    def createActor(self, actor_class: Any, **options: Any) -> Any:
        with interrupts_held():
            return self._endpoint.createActor(actor_class, **options)

    def listen(self, timeout: float) -> Any:
        """The next message, or None after ``timeout`` seconds. A Ctrl-C during the wait
        raises KeyboardInterrupt, and loses nothing: a message received with it comes next."""
        if self._kept is not None:
            message, self._kept = self._kept, None
            return message
        if not _raises_on_ctrl_c():
            return self._endpoint.listen(timeout)
        deadline = time.monotonic() + timeout
        while True:
            with _recorded() as caught:
                message = self._endpoint.listen(min(SLICE, max(0.0, deadline - time.monotonic())))
            if caught:
                self._kept = message
                raise KeyboardInterrupt
            if message is not None or time.monotonic() >= deadline:
                return message


@contextmanager
def private(asys: Any) -> Iterator[Endpoint]:
    """A private endpoint of ``asys`` (see Thespian's ``ActorSystem.private``), guarded."""
    context = asys.private()
    with interrupts_held():
        endpoint = context.__enter__()
    try:
        yield Endpoint(endpoint)
    finally:
        with interrupts_held():
            context.__exit__(None, None, None)
