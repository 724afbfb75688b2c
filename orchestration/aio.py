"""`AsyncRuntime`: the `Runtime` calls for asyncio code (FastAPI, MCP servers, notebooks).

Blocking calls run in worker threads (``asyncio.to_thread``); streams are drained by a thread
that hands each item to the event loop as it arrives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from orchestration.messages import (
    AgentInfo,
    DaemonStatus,
    Envelope,
    RoomAction,
    RoomInfo,
    Spawned,
    StreamMessage,
    TurnFailed,
    TurnFinished,
)
from orchestration.runtime import Runtime
from orchestration.settings import Settings


class AsyncRuntime:
    """`Runtime` for asyncio code: blocking calls run in worker threads."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, start: bool = True) -> AsyncRuntime:
        return cls(await asyncio.to_thread(Runtime.connect, settings, start=start))

    async def spawn(self, name: str, **options: Any) -> Spawned:
        return await asyncio.to_thread(self.runtime.spawn, name, **options)

    async def list(self) -> list[AgentInfo]:
        return await asyncio.to_thread(self.runtime.list)

    async def history(self, name: str, **options: Any) -> list[Envelope]:
        return await asyncio.to_thread(self.runtime.history, name, **options)

    async def shutdown(self, name: str, **options: Any) -> None:
        await asyncio.to_thread(self.runtime.shutdown, name, **options)

    async def status(self) -> DaemonStatus:
        return await asyncio.to_thread(self.runtime.status)

    async def send(self, name: str, text: str, **options: Any) -> AsyncIterator[StreamMessage]:
        """The turn's stream messages, delivered to the event loop as they arrive. A reader
        that leaves before the turn ends (closes the iterator, or is cancelled: a web client
        that hung up) cancels the turn."""
        stream = await asyncio.to_thread(self.runtime.send, name, text, **options)
        ended = False
        try:
            async for event in _iterate_in_thread(iter(stream)):
                ended = isinstance(event, TurnFinished | TurnFailed)
                yield event
        finally:
            if not ended:
                stream.cancel()  # one tell: quick, and safe while the task is cancelled

    async def watch(self, name: str | None = None, **options: Any) -> AsyncIterator[Any]:
        subscription = await asyncio.to_thread(self.runtime.watch, name, **options)
        async for event in _iterate_in_thread(subscription):
            yield event

    async def create_room(self, name: str, **options: Any) -> RoomInfo:
        return await asyncio.to_thread(self.runtime.create_room, name, **options)

    async def rooms(self) -> list[RoomInfo]:
        return await asyncio.to_thread(self.runtime.rooms)

    async def room(self, name: str, action: RoomAction = "show") -> RoomInfo:
        return await asyncio.to_thread(self.runtime.room, name, action)

    async def say(self, room: str, text: str, **options: Any) -> Envelope:
        return await asyncio.to_thread(self.runtime.say, room, text, **options)

    async def approve(self, room: str, action: str = "approve", **options: Any) -> RoomInfo:
        return await asyncio.to_thread(self.runtime.approve, room, action, **options)

    async def set_topology(self, room: str, topology: str) -> RoomInfo:
        return await asyncio.to_thread(self.runtime.set_topology, room, topology)

    async def room_history(self, room: str, **options: Any) -> list[Envelope]:
        return await asyncio.to_thread(self.runtime.room_history, room, **options)

    async def observe_room(self, room: str, **options: Any) -> AsyncIterator[Any]:
        """Subscribe to the room now; iterate the result for its messages, events and streamed
        replies as they happen (so what is said after this call is never missed)."""
        subscription = await asyncio.to_thread(self.runtime.observe_room, room, **options)
        return _iterate_in_thread(subscription)

    async def record(self, message: Envelope) -> None:
        await asyncio.to_thread(self.runtime.record, message)

    async def close(self) -> None:
        await asyncio.to_thread(self.runtime.close)


_END = object()


async def _iterate_in_thread(iterator: Iterator[Any]) -> AsyncIterator[Any]:
    """Drain a blocking iterator in a thread, handing items to the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        """Queue ``item`` for the loop; False once the loop is gone (the reader left)."""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed
            return False
        return True

    def pump() -> None:
        try:
            for item in iterator:
                if not hand_over(item) or stop.is_set():
                    break
        except Exception as exc:
            hand_over(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # in this thread, which owns the subscription's endpoint
            hand_over(_END)

    worker = threading.Thread(target=pump, daemon=True)
    worker.start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        halt = getattr(iterator, "stop", None)
        if halt is not None:
            halt()  # a subscription waiting for its next item ends within its poll
