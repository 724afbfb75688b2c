"""The MCP server: the Runtime's calls as Model Context Protocol tools, for Claude Code, Cursor
and any MCP client.

`build_server` makes an `MCPServer` over one `Runtime`; ``orchestration mcp`` runs it on stdio
or streamable HTTP. Every tool takes typed arguments (the SDK validates them against the
tool's input schema) and returns a Pydantic model as structured output. Blocking Runtime calls
run in worker threads, so the event loop keeps serving while an agent answers.

On an error: an `OrchestrationError` or `DaemonError` becomes a tool error (``isError``) whose
text is the message and its hint; a crash reaches the client only as the SDK's generic
``Error executing tool``, with the traceback in the server's log (stderr).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from orchestration.aio import AsyncRuntime
from orchestration.errors import DaemonError
from orchestration.interfaces import workflow_runs
from orchestration.interfaces.workflows_api import StepOutput, WorkflowRun
from orchestration.messages import (
    AGENT_NAME_PATTERN,
    AgentInfo,
    AgentList,
    AgentSpec,
    Envelope,
    RespondPolicy,
    RoomInfo,
    RoomSpec,
    StreamMessage,
    TreeSnapshot,
    TurnDelta,
    TurnFinished,
    TurnStarted,
    Usage,
    default_of,
)
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError, TurnFailedError, turn_outcome

__all__ = ["Conversation", "Reply", "Stopped", "build_server"]

Name = Annotated[str, Field(description="an agent's name", min_length=1)]
NewName = Annotated[
    str,
    Field(
        description="1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter or"
        " digit",
        pattern=AGENT_NAME_PATTERN.pattern,
    ),
]
TOPOLOGIES = "who hears what: broadcast, filtered, hierarchical, or custom:package.module:function"


class Reply(BaseModel):
    """An agent's whole reply to one message."""

    agent: str
    text: str
    usage: Usage
    stop_reason: str
    turn_id: str
    message_id: str = Field(description="the reply's id in the journal")


class Conversation(BaseModel):
    """A page of an agent's journaled conversation, oldest first."""

    agent: str
    messages: list[Envelope]
    next_after_seq: int = Field(description="pass as after_seq to get the next page")


class Stopped(BaseModel):
    """An agent (or a supervisor with its subtree) stopped for good and left the tree."""

    name: str
    history_kept: bool = True


@asynccontextmanager
async def _refusals() -> AsyncIterator[None]:
    """Turn what the tree refused into a tool error that carries the message and its hint."""
    try:
        yield
    except (OrchestrationError, DaemonError) as exc:
        hint = f"; hint: {exc.hint}" if exc.hint else ""
        raise ToolError(f"{exc}{hint}") from exc


def _outcome(agent: str, event: StreamMessage) -> TurnFinished | None:
    """`turn_outcome`, with a failed turn as a tool error."""
    try:
        return turn_outcome(event)
    except TurnFailedError as failed:
        retry = "; sending it again may work" if failed.retryable else ""
        raise ToolError(f"{agent}'s turn failed ({failed.code}): {failed}{retry}") from failed


def build_server(runtime: Runtime) -> MCPServer:
    """An MCP server named ``orchestration`` whose tools act on ``runtime``'s actor system.

    The server does not own ``runtime``: whoever made it closes it."""
    aio = AsyncRuntime(runtime)
    server = MCPServer(
        "orchestration",
        instructions="Create LLM agents, talk to them, put them in conversations, and watch the"
        " supervision tree of the running orchestration daemon.",
        log_level="WARNING",  # it configures the root logger: INFO would log every request
    )

    @server.tool()
    async def create_agent(
        name: NewName,
        provider: Annotated[
            str,
            Field(description="provider, or provider:model; 'default' is the daemon's default"),
        ] = default_of(AgentSpec, "provider"),
        model: Annotated[str, Field(description="model name (default: the provider's)")] = (
            default_of(AgentSpec, "model")
        ),
        system_prompt: Annotated[str, Field(description="the agent's instructions")] = (
            default_of(AgentSpec, "system")
        ),
    ) -> AgentInfo:
        """Create an agent, in its own supervised process; returns it once it runs."""
        async with _refusals():
            spawned = await aio.spawn(
                name, provider=provider, model=model, system_prompt=system_prompt
            )
        return spawned.agent

    @server.tool()
    async def list_agents() -> AgentList:
        """Every agent with its state (idle, processing, restarting...), PID and turn count."""
        async with _refusals():
            return AgentList(agents=await aio.list())

    @server.tool()
    async def send_message(
        agent: Name,
        content: Annotated[str, Field(description="what to say to the agent", min_length=1)],
        ctx: Context,
    ) -> Reply:
        """Say something to an agent and return its whole reply. While the reply streams, each
        chunk is reported as a progress notification: progress counts the characters so far
        and the message is the new text."""
        received = 0
        async with _refusals(), aclosing(aio.send(agent, content)) as events:
            async for event in events:  # a cancelled call closes the stream: the turn stops
                if isinstance(event, TurnStarted):
                    await ctx.report_progress(0, message=f"{agent} is answering")
                elif isinstance(event, TurnDelta) and event.text:
                    received += len(event.text)
                    await ctx.report_progress(received, message=event.text)
                elif (finished := _outcome(agent, event)) is not None:
                    return Reply(
                        agent=agent,
                        text=finished.message.content,
                        usage=finished.usage,
                        stop_reason=finished.stop_reason,
                        turn_id=finished.turn_id,
                        message_id=finished.message.id,
                    )
        raise ToolError(f"{agent}'s turn ended without a reply")

    @server.tool()
    async def get_conversation(
        agent: Name,
        limit: Annotated[int, Field(ge=1, le=1000, description="at most this many")] = 50,
        after_seq: Annotated[
            int,
            Field(ge=0, le=2**63 - 1, description="start after this point (a next_after_seq)"),
        ] = 0,
    ) -> Conversation:
        """An agent's conversation as the journal holds it, oldest first, one page at a time."""
        async with _refusals():
            page = await asyncio.to_thread(
                runtime.history_page, agent, limit=limit, after_seq=after_seq
            )
        return Conversation(agent=agent, messages=page.messages, next_after_seq=page.last_seq)

    @server.tool()
    async def shutdown_agent(
        name: Annotated[str, Field(description="the agent or supervisor", min_length=1)],
    ) -> Stopped:
        """Stop an agent (or a supervisor and everything under it) for good and remove it from
        the tree; its history stays in the journal."""
        async with _refusals():
            await aio.shutdown(name)
        return Stopped(name=name)

    @server.tool()
    async def create_conversation(
        name: NewName,
        agents: Annotated[
            list[str], Field(min_length=1, description="the agents taking part (they must exist)")
        ],
        respond: Annotated[RespondPolicy, Field(description="who answers a message")] = (
            default_of(RoomSpec, "respond")
        ),
        topology: Annotated[str, Field(description=TOPOLOGIES)] = default_of(RoomSpec, "topology"),
        max_turns: Annotated[int, Field(ge=1, description="agent turns before it ends")] = (
            default_of(RoomSpec, "max_turns")
        ),
    ) -> RoomInfo:
        """Create a conversation (a room) where several agents and the user talk."""
        async with _refusals():
            return await aio.create_room(
                name, agents=agents, respond=respond, topology=topology, max_turns=max_turns
            )

    @server.tool()
    async def set_topology(
        room: Annotated[str, Field(description="the conversation", min_length=1)],
        topology: Annotated[str, Field(description=TOPOLOGIES, min_length=1)],
    ) -> RoomInfo:
        """Switch a conversation to another topology now, keeping its history and agents."""
        async with _refusals():
            return await aio.set_topology(room, topology)

    @server.tool()
    async def get_tree() -> TreeSnapshot:
        """The live supervision tree: every supervisor (the root first) and every agent, each
        with its state, PID and restart count."""
        async with _refusals():
            return await asyncio.to_thread(runtime.tree)

    @server.tool()
    async def run_workflow(
        name: Annotated[str, Field(description="a workflow a tree file declares")],
        input: Annotated[str, Field(description="what its first steps are given", min_length=1)],
        ctx: Context,
    ) -> WorkflowRun:
        """Run a declared workflow (Google ADK decides the order; each step is one agent's
        turn) and return every step's reply. Each finished step is reported as a progress
        notification."""
        finished: list[StepOutput] = []
        async with _refusals():
            run, steps = await workflow_runs.start(aio, name, input)
            try:
                async for step in steps:
                    if not step.partial:
                        finished.append(
                            StepOutput(
                                agent=step.agent, node=step.author, path=step.path, text=step.text
                            )
                        )
                        await ctx.report_progress(len(finished), message=f"{step.agent} answered")
            except Exception as exc:
                failed = workflow_runs.failure(exc)
                if failed is None:
                    raise
                raise failed from None
        return WorkflowRun(run=run, steps=finished, output=finished[-1].text if finished else "")

    return server
