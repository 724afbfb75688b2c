"""``/v1/workflows``: the workflows tree files declare, and runs of them (Google ADK)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from orchestration.aio import AsyncRuntime
from orchestration.interfaces import workflow_runs
from orchestration.interfaces.problems import from_error, problem_response
from orchestration.interfaces.sse import STREAMED, event, event_response, wants_events
from orchestration.messages import WorkflowList
from orchestration.runtime import Runtime

__all__ = ["RunWorkflow", "StepOutput", "WorkflowRun", "workflows_router"]


class RunWorkflow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, description="what the workflow's first steps are given")


class StepOutput(BaseModel):
    agent: str = Field(description="our agent that took the turn")
    node: str = Field(description="ADK's node name")
    path: str = Field(description="ADK's node path")
    text: str


class WorkflowRun(BaseModel):
    run: str = Field(description="the run's conversation: workflow:NAME:RUN")
    steps: list[StepOutput]
    output: str = Field(description="the last step's reply")


def workflows_router(runtime: Runtime) -> APIRouter:
    """The workflow endpoints, on ``runtime``."""
    router = APIRouter(prefix="/workflows", tags=["workflows"])
    aruntime = AsyncRuntime(runtime)

    @router.get("")
    def list_workflows() -> WorkflowList:
        """The workflows the trees' files declare."""
        return WorkflowList(workflows=runtime.workflows())

    @router.post(
        "/{name}/runs",
        response_model=WorkflowRun,
        responses=STREAMED,
    )
    async def run_workflow(
        name: str, body: RunWorkflow, request: Request, stream: bool = False
    ) -> WorkflowRun | StreamingResponse:
        """Run a declared workflow on ``input`` and return every step's reply; with
        ``Accept: text/event-stream`` (or ``stream=true``) stream it as events ``run_started``,
        then per step ``step_started``, ``delta``..., ``step_finished``, then
        ``run_finished`` or ``run_failed``."""
        run, steps = await workflow_runs.start(aruntime, name, body.input)
        if wants_events(request, stream):
            return event_response(_server_sent(run, steps))
        return await _collected(run, steps)

    return router


def _output(step: Any) -> StepOutput:
    return StepOutput(agent=step.agent, node=step.author, path=step.path, text=step.text)


async def _collected(run: str, steps: AsyncGenerator[Any, None]) -> WorkflowRun:
    finished: list[StepOutput] = []
    try:
        async for step in steps:
            if not step.partial:
                finished.append(_output(step))
    except Exception as exc:
        failed = workflow_runs.failure(exc)
        if failed is None:
            raise
        raise from_error(failed) from None
    return WorkflowRun(run=run, steps=finished, output=finished[-1].text if finished else "")


async def _server_sent(run: str, steps: AsyncGenerator[Any, None]) -> AsyncIterator[str]:
    """The run as Server-Sent Events; a client that hangs up cancels the running steps."""
    yield event("run_started", {"run": run})
    started: set[str] = set()
    try:
        async for step in steps:
            fields = _output(step).model_dump()
            key = f"{step.author}@{step.path}"
            if key not in started:
                started.add(key)
                yield event("step_started", {k: fields[k] for k in ("agent", "node", "path")})
            yield event("delta" if step.partial else "step_finished", fields)
            if not step.partial:
                started.discard(key)
        yield event("run_finished", {"run": run})
    except Exception as exc:
        failed = workflow_runs.failure(exc)
        if failed is None:
            raise
        body = json.loads(bytes(problem_response(from_error(failed)).body))
        yield event("run_failed", {"run": run, **body})
    finally:
        await steps.aclose()
