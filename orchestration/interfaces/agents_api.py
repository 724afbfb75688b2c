"""``/v1/agents``: create, list, show and stop agents, talk to them (a JSON reply, or the
reply streamed as Server-Sent Events) and page through their history."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestration.aio import AsyncRuntime
from orchestration.errors import DaemonError
from orchestration.interfaces.problems import Problem, from_error, problem_response
from orchestration.interfaces.sse import STREAMED, event, event_response, wants_events
from orchestration.messages import (
    ROOT_SUPERVISOR,
    AgentInfo,
    AgentList,
    AgentSpec,
    Envelope,
    HistoryPage,
    Recovery,
    Spawned,
    StreamMessage,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    default_of,
)
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError, TurnFailedError, turn_outcome

__all__ = [
    "SSE_EVENTS",
    "AfterSeq",
    "CreateAgent",
    "Limit",
    "Page",
    "SendMessage",
    "Strict",
    "agents_router",
]

SSE_EVENTS: dict[type, str] = {
    TurnStarted: "started",
    TurnDelta: "delta",
    TurnFinished: "finished",
    TurnFailed: "failed",
}
FAILED_TURN_STATUS = {"timeout": 504, "cancelled": 409, "stopped": 409, "internal": 500}
"""HTTP status of a turn that failed, by `TurnFailed.kind`; the provider's errors are 502."""

Limit = Annotated[int, Query(ge=1, le=1000, description="messages per page")]
AfterSeq = Annotated[
    int, Query(ge=0, le=2**63 - 1, description="the next_after_seq of the previous page")
]
"""A journal position (a SQLite INTEGER, so at most 2**63 - 1)."""


class Strict(BaseModel):
    """A request body: unknown fields are refused (422)."""

    model_config = ConfigDict(extra="forbid")


class CreateAgent(Strict):
    name: str
    provider: str = Field(default_of(AgentSpec, "provider"), description="or provider:model")
    model: str = default_of(AgentSpec, "model")
    system_prompt: str = default_of(AgentSpec, "system")
    recovery: Recovery = default_of(AgentSpec, "recovery")
    turn_timeout: float | None = Field(default_of(AgentSpec, "turn_timeout"), gt=0)
    exist_ok: bool = False
    under: str = ROOT_SUPERVISOR


class SendMessage(Strict):
    content: str


class Page(BaseModel):
    """A page of a conversation, oldest first; pass ``next_after_seq`` as ``after_seq`` for
    the next one (``has_more``: the page was full, or cut short to keep it under the frame
    limit, so there may be more now)."""

    messages: list[Envelope]
    next_after_seq: int
    has_more: bool

    @classmethod
    def of(cls, page: HistoryPage, limit: int) -> Page:
        return cls(
            messages=page.messages,
            next_after_seq=page.last_seq,
            has_more=page.more or len(page.messages) == limit,
        )


def agents_router(runtime: Runtime) -> APIRouter:
    """The agent endpoints, on ``runtime``."""
    router = APIRouter(prefix="/agents", tags=["agents"])
    aruntime = AsyncRuntime(runtime)

    @router.post("", status_code=status.HTTP_201_CREATED)
    def create_agent(body: CreateAgent, response: Response) -> Spawned:
        """Create an agent (``exist_ok``: keep one of that name, 200)."""
        spawned = runtime.spawn(
            body.name,
            provider=body.provider,
            model=body.model,
            system_prompt=body.system_prompt,
            recovery=body.recovery,
            turn_timeout=body.turn_timeout,
            exist_ok=body.exist_ok,
            under=body.under,
        )
        if not spawned.created:
            response.status_code = status.HTTP_200_OK
        return spawned

    @router.get("")
    def list_agents() -> AgentList:
        """Every agent with its live state."""
        return AgentList(agents=runtime.list())

    @router.get("/{name}")
    def get_agent(name: str) -> AgentInfo:
        return runtime.resolve(name).agent

    @router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_agent(name: str) -> None:
        """Stop the agent for good; its history stays in the journal."""
        runtime.shutdown(name)

    @router.post(
        "/{name}/messages",
        response_model=TurnFinished,
        responses=STREAMED,
    )
    async def send_message(
        name: str, body: SendMessage, request: Request, stream: bool = False
    ) -> TurnFinished | StreamingResponse:
        """Say ``content`` to the agent and return its finished reply; with ``Accept:
        text/event-stream`` (or ``stream=true``) stream it as events ``started``, ``delta``...,
        then ``finished`` or ``failed``."""
        events = aruntime.send(name, body.content)
        first = await anext(events)  # an unknown agent or a bad message raises here
        if wants_events(request, stream):
            return event_response(_server_sent(first, events))
        return await _finished(first, events)

    @router.get("/{name}/history")
    def history(name: str, limit: Limit = 200, after_seq: AfterSeq = 0) -> Page:
        """The agent's conversation, a page at a time."""
        page = runtime.history_page(name, limit=limit, after_seq=after_seq)
        return Page.of(page, limit)

    return router


async def _finished(first: StreamMessage, rest: AsyncIterator[StreamMessage]) -> TurnFinished:
    """The turn's `TurnFinished`; a `TurnFailed` becomes a problem."""
    event = first
    try:
        while (finished := turn_outcome(event)) is None:
            event = await anext(rest)
    except TurnFailedError as failed:
        raise Problem(
            FAILED_TURN_STATUS.get(failed.code, 502),
            "turn_failed",
            str(failed),
            "send again" if failed.retryable else "",
            kind=failed.code,
            retryable=failed.retryable,
        ) from failed
    return finished


async def _server_sent(
    first: StreamMessage, rest: AsyncGenerator[StreamMessage, None]
) -> AsyncIterator[str]:
    """The turn as Server-Sent Events; a failure of the stream itself ends it with ``error``,
    and a client that leaves mid-turn cancels the turn."""
    yield _event(first)
    try:
        async for event in rest:
            yield _event(event)
    except (OrchestrationError, DaemonError) as exc:
        body = problem_response(from_error(exc)).body
        yield f"event: error\ndata: {bytes(body).decode()}\n\n"
    finally:
        await rest.aclose()  # a client that hung up mid-turn cancels it


def _event(message: StreamMessage) -> str:
    return event(SSE_EVENTS[type(message)], message.model_dump(mode="json"))
