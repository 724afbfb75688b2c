"""Run provider streams in worker threads and hand their events to an actor.

Thespian holds the messages an actor sends until its handler returns, so a turn cannot be
streamed from inside one ``receiveMessage``. Instead each turn's provider call runs in a daemon
thread that writes its events, pickled, length-prefixed and tagged with the turn id, to one end
of a `socket.socketpair`. The actor returns ``ThespianWatch([channel.fileno()])`` from every
handler, gets a ``WatchMessage`` whenever events are ready, and calls `EventChannel.drain`.

One channel serves the actor's whole life: Thespian keeps watching a descriptor number, so a
socket closed and reopened per turn could reuse a number it no longer polls.

On cancel a worker is abandoned: it stops at its next event (closing the provider's stream),
and a thread blocked on a hung connection ends with the SDK's timeout or with the process.
"""

from __future__ import annotations

import contextlib
import pickle
import socket
import struct
import threading
from collections.abc import Callable, Iterator

from orchestration.providers.base import StreamEvent

__all__ = ["EventChannel", "PumpFailure", "TurnWorker"]

_HEADER = struct.Struct("!I")


class PumpFailure:
    """The worker thread's stream raised. ``error`` is the exception, or a summary of it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error if _picklable(error) else RuntimeError(repr(error))


PumpEvent = StreamEvent | PumpFailure


class TurnWorker:
    """One provider stream running in a daemon thread."""

    def __init__(
        self, channel: EventChannel, turn_id: str, produce: Callable[[], Iterator[StreamEvent]]
    ) -> None:
        self.turn_id = turn_id
        self._channel = channel
        self._cancelled = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name=f"turn-{turn_id}", daemon=True
        )
        self._thread.start()

    def cancel(self) -> None:
        """Abandon the stream: the thread stops at its next event and writes nothing more."""
        self._cancelled.set()

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
        if not self._cancelled.is_set():
            self._channel.write(self.turn_id, event)


class EventChannel:
    """The socket pair between an actor and its workers."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._write_lock = threading.Lock()
        self._buffer = b""

    def fileno(self) -> int:
        """The descriptor the actor watches."""
        return self._reader.fileno()

    def start(self, turn_id: str, produce: Callable[[], Iterator[StreamEvent]]) -> TurnWorker:
        """Run ``produce()`` in a worker thread, its events tagged with ``turn_id``."""
        return TurnWorker(self, turn_id, produce)

    def write(self, turn_id: str, event: PumpEvent) -> None:
        """Called by workers; frames from different threads never interleave."""
        payload = pickle.dumps((turn_id, event))
        with self._write_lock, contextlib.suppress(OSError):  # closed: the actor is leaving
            self._writer.sendall(_HEADER.pack(len(payload)) + payload)

    def drain(self) -> list[tuple[str, PumpEvent]]:
        """Every (turn id, event) that has arrived so far, in order. Never blocks."""
        while True:
            try:
                chunk = self._reader.recv(65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buffer += chunk
        events: list[tuple[str, PumpEvent]] = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            events.append(pickle.loads(self._buffer[_HEADER.size : end]))
            self._buffer = self._buffer[end:]
        return events

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


def _picklable(error: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True
