"""Run a provider stream in a worker thread and hand its events to an actor.

Thespian holds the messages an actor sends until its handler returns, so a turn cannot be
streamed from inside one ``receiveMessage``. Instead a `TurnPump` runs the provider call in a
daemon thread that writes each event, pickled and length-prefixed, to one end of a
`socket.socketpair`. The actor returns ``ThespianWatch([pump.fileno()])`` from every handler, gets
a ``WatchMessage`` whenever events are ready, and calls `TurnPump.drain` to read them without
blocking.

On cancel the thread is abandoned: it stops at its next event (closing the provider's stream),
and a thread blocked on a hung connection dies with the process or with the SDK's timeout.
"""

from __future__ import annotations

import pickle
import socket
import struct
import threading
from collections.abc import Callable, Iterator

from orchestration.providers.base import StreamEvent

_HEADER = struct.Struct("!I")


class PumpFailure:
    """The worker thread's stream raised. ``error`` is the exception, or a summary of it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error if _picklable(error) else RuntimeError(repr(error))


PumpEvent = StreamEvent | PumpFailure


class TurnPump:
    """One provider stream running in a worker thread, readable from the actor's loop."""

    def __init__(self, produce: Callable[[], Iterator[StreamEvent]], name: str) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._cancelled = threading.Event()
        self._buffer = b""
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name=f"pump-{name}", daemon=True
        )
        self._thread.start()

    def fileno(self) -> int:
        """The descriptor the actor watches."""
        return self._reader.fileno()

    def drain(self) -> list[PumpEvent]:
        """Every event that has arrived so far, in order. Never blocks."""
        while True:
            try:
                chunk = self._reader.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buffer += chunk
        events: list[PumpEvent] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            events.append(pickle.loads(self._buffer[_HEADER.size : end]))
            self._buffer = self._buffer[end:]
        return events

    def cancel(self) -> None:
        """Abandon the stream: the thread stops at its next event and nothing more is read."""
        self._cancelled.set()
        self.close()

    def close(self) -> None:
        """Release the socket pair (idempotent)."""
        if not self._closed:
            self._closed = True
            self._reader.close()
            self._writer.close()

    def _run(self, produce: Callable[[], Iterator[StreamEvent]]) -> None:
        stream: Iterator[StreamEvent] | None = None
        try:
            stream = produce()
            for event in stream:
                if self._cancelled.is_set():
                    break
                self._emit(event)
        except Exception as exc:  # provider errors and bugs alike: the actor decides
            self._emit(PumpFailure(exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _emit(self, event: PumpEvent) -> None:
        if self._cancelled.is_set():
            return
        payload = pickle.dumps(event)
        try:
            self._writer.sendall(_HEADER.pack(len(payload)) + payload)
        except OSError:
            self._cancelled.set()


def _picklable(error: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True
