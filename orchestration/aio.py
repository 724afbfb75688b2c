"""`AsyncRuntime`: every `Runtime` call, for asyncio code (FastAPI, MCP servers, notebooks).

Each call has the signature of the `Runtime` call of its name (a unit test keeps them equal)
and runs it in a worker thread (``asyncio.to_thread``). Where `Runtime` returns a stream or a
subscription, this returns an async iterator, drained by a thread that hands each item to the
event loop as it arrives. Only this module imports `orchestration.runtime`, not the reverse, so
the CLI never imports asyncio.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from orchestration.gateway.link import Deliver, End, Follower, GatewayLink
from orchestration.messages import (
    DEFAULT_HUMAN,
    ROOT_SUPERVISOR,
    AgentInfo,
    AgentSpec,
    ApprovalAction,
    ClaudeCodeOptions,
    DaemonStatus,
    Envelope,
    GatewayReport,
    HistoryPage,
    HumanMode,
    Recovery,
    Resolved,
    RespondPolicy,
    Role,
    RoomAction,
    RoomInfo,
    RoomSpec,
    Spawned,
    StreamMessage,
    SupervisorNode,
    TreeSnapshot,
    TurnFailed,
    TurnFinished,
    WorkflowSpec,
    default_of,
)
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from orchestration.tree_files import TreeFile

__all__ = ["AsyncRuntime"]


class AsyncRuntime:
    """`Runtime` for asyncio code: the same calls, each run in a worker thread."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # --- connecting --------------------------------------------------------------------------

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, start: bool = True) -> AsyncRuntime:
        """`Runtime.connect`."""
        return cls(await asyncio.to_thread(Runtime.connect, settings, start=start))

    async def close(self) -> None:
        """`Runtime.close`."""
        await asyncio.to_thread(self.runtime.close)

    # --- agents and trees --------------------------------------------------------------------

    async def spawn(
        self,
        name: str,
        *,
        provider: str = default_of(AgentSpec, "provider"),
        model: str = default_of(AgentSpec, "model"),
        system_prompt: str = default_of(AgentSpec, "system"),
        recovery: Recovery = default_of(AgentSpec, "recovery"),
        turn_timeout: float | None = default_of(AgentSpec, "turn_timeout"),
        exist_ok: bool = False,
        under: str = ROOT_SUPERVISOR,
        command: Sequence[str] = default_of(AgentSpec, "command"),
        cwd: str | None = default_of(AgentSpec, "cwd"),
        permission_mode: str = default_of(ClaudeCodeOptions, "permission_mode"),
        allowed_tools: Sequence[str] = default_of(ClaudeCodeOptions, "allowed_tools"),
        max_budget_usd: float | None = default_of(ClaudeCodeOptions, "max_budget_usd"),
        keep_env: Sequence[str] = default_of(ClaudeCodeOptions, "keep_env"),
    ) -> Spawned:
        """`Runtime.spawn`."""
        return await asyncio.to_thread(
            self.runtime.spawn,
            name,
            provider=provider,
            model=model,
            system_prompt=system_prompt,
            recovery=recovery,
            turn_timeout=turn_timeout,
            exist_ok=exist_ok,
            under=under,
            command=command,
            cwd=cwd,
            permission_mode=permission_mode,
            allowed_tools=allowed_tools,
            max_budget_usd=max_budget_usd,
            keep_env=keep_env,
        )

    async def up(self, tree: str | os.PathLike[str] | TreeFile | SupervisorNode) -> str:
        """`Runtime.up`."""
        return await asyncio.to_thread(self.runtime.up, tree)

    async def tree(self) -> TreeSnapshot:
        """`Runtime.tree`."""
        return await asyncio.to_thread(self.runtime.tree)

    async def list(self) -> list[AgentInfo]:
        """`Runtime.list`."""
        return await asyncio.to_thread(self.runtime.list)

    async def resolve(self, name: str) -> Resolved:
        """`Runtime.resolve`."""
        return await asyncio.to_thread(self.runtime.resolve, name)

    async def send(
        self, name: str, text: str, *, sender: str = "user", timeout: float | None = None
    ) -> AsyncIterator[StreamMessage]:
        """`Runtime.send`: the turn's stream messages, delivered to the event loop as they
        arrive. A reader that leaves before the turn ends (closes the iterator, or is
        cancelled: a web client that hung up) cancels the turn."""
        stream = await asyncio.to_thread(
            self.runtime.send, name, text, sender=sender, timeout=timeout
        )
        ended = False
        try:
            async for event in _iterate_in_thread(iter(stream)):
                ended = isinstance(event, TurnFinished | TurnFailed)
                yield event
        finally:
            if not ended:
                stream.cancel()  # one tell: quick, and safe while the task is cancelled

    async def history(self, name: str, *, limit: int = 1000, after_seq: int = 0) -> list[Envelope]:
        """`Runtime.history`."""
        return await asyncio.to_thread(self.runtime.history, name, limit=limit, after_seq=after_seq)

    async def history_page(
        self,
        name: str,
        *,
        limit: int = 1000,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """`Runtime.history_page`."""
        return await asyncio.to_thread(
            self.runtime.history_page,
            name,
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )

    async def conversation_page(
        self,
        conversation: str,
        *,
        limit: int = 200,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """`Runtime.conversation_page`."""
        return await asyncio.to_thread(
            self.runtime.conversation_page,
            conversation,
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )

    async def events(self, *, limit: int = 100) -> list[Envelope]:
        """`Runtime.events`."""
        return await asyncio.to_thread(self.runtime.events, limit=limit)

    async def shutdown(self, name: str, *, grace: float | None = None) -> None:
        """`Runtime.shutdown`."""
        await asyncio.to_thread(self.runtime.shutdown, name, grace=grace)

    async def shutdown_all(self, *, grace: float | None = None) -> list[str]:
        """`Runtime.shutdown_all`."""
        return await asyncio.to_thread(self.runtime.shutdown_all, grace=grace)

    async def status(self) -> DaemonStatus:
        """`Runtime.status`."""
        return await asyncio.to_thread(self.runtime.status)

    async def watch(
        self, name: str | None = None, *, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        """`Runtime.watch`, subscribed when iteration starts."""
        subscription = await asyncio.to_thread(self.runtime.watch, name, timeout=timeout)
        async for event in _iterate_in_thread(subscription):
            yield event

    async def observe(self, name: str, *, timeout: float | None = None) -> AsyncIterator[Any]:
        """`Runtime.observe`: subscribed now; iterate the result for what happens next."""
        subscription = await asyncio.to_thread(self.runtime.observe, name, timeout=timeout)
        return _iterate_in_thread(subscription)

    async def follow(self, name: str, deliver: Deliver, end: End) -> Follower:
        """`Runtime.follow` (``deliver`` and ``end`` run on the link's thread)."""
        return await asyncio.to_thread(self.runtime.follow, name, deliver, end)

    async def link(self) -> GatewayLink:
        """`Runtime.link`."""
        return await asyncio.to_thread(self.runtime.link)

    async def gateway(self) -> GatewayReport:
        """`Runtime.gateway`."""
        return await asyncio.to_thread(self.runtime.gateway)

    async def stop_daemon(self, *, grace: float = 5.0) -> list[int]:
        """`Runtime.stop_daemon`."""
        return await asyncio.to_thread(self.runtime.stop_daemon, grace=grace)

    # --- rooms -------------------------------------------------------------------------------

    async def create_room(
        self,
        name: str,
        *,
        agents: Sequence[str],
        humans: Sequence[str] = (DEFAULT_HUMAN,),
        topology: str = default_of(RoomSpec, "topology"),
        respond: RespondPolicy = default_of(RoomSpec, "respond"),
        mode: HumanMode = default_of(RoomSpec, "mode"),
        max_turns: int = default_of(RoomSpec, "max_turns"),
        cooldown: float = default_of(RoomSpec, "cooldown"),
        stop_phrase: str | None = default_of(RoomSpec, "stop_phrase"),
        idle_timeout: float | None = default_of(RoomSpec, "idle_timeout"),
        roles: dict[str, Role] | None = None,
        groups: dict[str, Sequence[str]] | None = None,
        exist_ok: bool = False,
    ) -> RoomInfo:
        """`Runtime.create_room`."""
        return await asyncio.to_thread(
            self.runtime.create_room,
            name,
            agents=agents,
            humans=humans,
            topology=topology,
            respond=respond,
            mode=mode,
            max_turns=max_turns,
            cooldown=cooldown,
            stop_phrase=stop_phrase,
            idle_timeout=idle_timeout,
            roles=roles,
            groups=groups,
            exist_ok=exist_ok,
        )

    async def create_room_from(self, spec: RoomSpec, *, exist_ok: bool = False) -> RoomInfo:
        """`Runtime.create_room_from`."""
        return await asyncio.to_thread(self.runtime.create_room_from, spec, exist_ok=exist_ok)

    async def rooms(self) -> list[RoomInfo]:
        """`Runtime.rooms`."""
        return await asyncio.to_thread(self.runtime.rooms)

    async def room(self, name: str, action: RoomAction = "show") -> RoomInfo:
        """`Runtime.room`."""
        return await asyncio.to_thread(self.runtime.room, name, action)

    async def say(
        self, room: str, text: str, *, sender: str = DEFAULT_HUMAN, to: Sequence[str] = ()
    ) -> Envelope:
        """`Runtime.say`."""
        return await asyncio.to_thread(self.runtime.say, room, text, sender=sender, to=to)

    async def set_topology(self, room: str, topology: str) -> RoomInfo:
        """`Runtime.set_topology`."""
        return await asyncio.to_thread(self.runtime.set_topology, room, topology)

    async def set_mode(self, room: str, mode: HumanMode) -> RoomInfo:
        """`Runtime.set_mode`."""
        return await asyncio.to_thread(self.runtime.set_mode, room, mode)

    async def join_room(self, room: str, human: str = DEFAULT_HUMAN) -> RoomInfo:
        """`Runtime.join_room`."""
        return await asyncio.to_thread(self.runtime.join_room, room, human)

    async def approve(
        self,
        room: str,
        action: ApprovalAction = "approve",
        *,
        content: str = "",
        pending: str | None = None,
        by: str = DEFAULT_HUMAN,
    ) -> RoomInfo:
        """`Runtime.approve`."""
        return await asyncio.to_thread(
            self.runtime.approve, room, action, content=content, pending=pending, by=by
        )

    async def room_history(
        self, room: str, *, limit: int = 1000, after_seq: int = 0
    ) -> list[Envelope]:
        """`Runtime.room_history`."""
        return await asyncio.to_thread(
            self.runtime.room_history, room, limit=limit, after_seq=after_seq
        )

    async def room_history_page(
        self,
        room: str,
        *,
        limit: int = 1000,
        after_seq: int = 0,
        after_id: str | None = None,
        newest: bool = False,
    ) -> HistoryPage:
        """`Runtime.room_history_page`."""
        return await asyncio.to_thread(
            self.runtime.room_history_page,
            room,
            limit=limit,
            after_seq=after_seq,
            after_id=after_id,
            newest=newest,
        )

    async def observe_room(
        self, room: str, *, timeout: float | None = None, stream: bool = True
    ) -> AsyncIterator[Any]:
        """`Runtime.observe_room`: subscribed now; iterate the result for the room's messages,
        events and streamed replies as they happen (so what is said after this call is never
        missed)."""
        subscription = await asyncio.to_thread(
            self.runtime.observe_room, room, timeout=timeout, stream=stream
        )
        return _iterate_in_thread(subscription)

    async def follow_room(
        self, room: str, deliver: Deliver, end: End, *, stream: bool = True
    ) -> Follower:
        """`Runtime.follow_room` (``deliver`` and ``end`` run on the link's thread)."""
        return await asyncio.to_thread(self.runtime.follow_room, room, deliver, end, stream=stream)

    # --- workflows ---------------------------------------------------------------------------

    async def workflows(self) -> list[WorkflowSpec]:
        """`Runtime.workflows`."""
        return await asyncio.to_thread(self.runtime.workflows)

    async def workflow(self, name: str) -> WorkflowSpec:
        """`Runtime.workflow`."""
        return await asyncio.to_thread(self.runtime.workflow, name)

    async def record(self, message: Envelope) -> None:
        """`Runtime.record`."""
        await asyncio.to_thread(self.runtime.record, message)

    async def runs(self) -> list[str]:
        """`Runtime.runs`."""
        return await asyncio.to_thread(self.runtime.runs)

    async def run_history(
        self, conversation: str, *, limit: int = 1000, newest: bool = False
    ) -> list[Envelope]:
        """`Runtime.run_history`."""
        return await asyncio.to_thread(
            self.runtime.run_history, conversation, limit=limit, newest=newest
        )

    async def observe_run(
        self, conversation: str, *, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        """`Runtime.observe_run`: subscribed now; iterate the result for what the run records."""
        subscription = await asyncio.to_thread(
            self.runtime.observe_run, conversation, timeout=timeout
        )
        return _iterate_in_thread(subscription)


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
