"""`AsyncRuntime`: the `Runtime` calls for asyncio code (FastAPI, MCP servers, notebooks).

Blocking calls run in worker threads (``asyncio.to_thread``); streams are drained by a thread
that hands each item to the event loop as it arrives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from orchestration.messages import AgentInfo, DaemonStatus, Envelope, Spawned, StreamMessage
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
        """The turn's stream messages, delivered to the event loop as they arrive."""
        stream = await asyncio.to_thread(self.runtime.send, name, text, **options)
        async for event in _iterate_in_thread(iter(stream)):
            yield event

    async def watch(self, name: str | None = None, **options: Any) -> AsyncIterator[Any]:
        subscription = await asyncio.to_thread(self.runtime.watch, name, **options)
        async for event in _iterate_in_thread(subscription):
            yield event

    async def close(self) -> None:
        await asyncio.to_thread(self.runtime.close)


_END = object()


async def _iterate_in_thread(iterator: Iterator[Any]) -> AsyncIterator[Any]:
    """Drain a blocking iterator in a thread, handing items to the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in iterator:
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if stop.is_set():
                    break
        except Exception as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _END)

    worker = threading.Thread(target=pump, daemon=True)
    worker.start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
