"""Google ADK workflows through the bus: ADK decides the order, our agents take the turns.

Install with ``uv sync --extra adk``; nothing else in orchestration imports this module.

An ADK ``LlmAgent`` whose model is ``orchestration:NAME`` talks to our supervised agent NAME:
`ActorLlm` (registered with ADK's model registry on import) makes each of its calls one turn of
that agent, through `AsyncRuntime`. So a step is supervised (a crashed agent is restarted by
its supervisor) and journaled in the agent's own history, and ADK's ``SequentialAgent``,
``ParallelAgent``, ``LoopAgent`` and ``Workflow`` graphs run unchanged.

- **Only the step's new input is sent.** The agent keeps its own journaled history, so a call
  sends what ADK's request holds after the agent's last reply (at first: everything), and not
  ADK's system instruction: the agent's instructions are those it was spawned with.
- **Failures raise** (`StepFailed`): a returned error code would not stop a workflow. The
  agent's supervisor and its provider's own retries are the only retries; ADK's retry and
  timeout settings stay unset.
- **Names.** ADK node names must be Python identifiers, our agent names need not be:
  `node_name` maps ``critic-1`` to ``critic_1``, and `llm_agent` builds the ``LlmAgent`` of an
  agent under that name (``LlmAgent(name="critic_1", model="orchestration:critic-1")``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import sys
import uuid
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.adk.agents import (
    BaseAgent,
    LlmAgent,
    LoopAgent,
    ParallelAgent,
    RunConfig,
    SequentialAgent,
)
from google.adk.agents.run_config import StreamingMode
from google.adk.events import Event, EventActions
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.models.registry import LLMRegistry
from google.adk.runners import InMemoryRunner
from google.adk.workflow import BaseNode
from google.genai import types

from orchestration.aio import AsyncRuntime
from orchestration.conversation_ids import ConversationId
from orchestration.errors import OrchestrationError
from orchestration.messages import (
    SYSTEM_SENDER,
    AgentStep,
    Envelope,
    EventName,
    LoopStep,
    ParallelStep,
    TurnDelta,
    TurnFailed,
    TurnFinished,
    WorkflowSpec,
)

__all__ = [
    "ActorLlm",
    "RunJournal",
    "StepEvent",
    "StepFailed",
    "StopWhen",
    "build",
    "llm_agent",
    "load_target",
    "node_name",
    "run",
    "run_blocking",
    "step_input",
    "use_runtime",
]

MODEL_PREFIX = "orchestration:"
USER = "orchestration"
Target = BaseAgent | BaseNode


class StepFailed(RuntimeError):
    """A workflow step's turn failed; names the agent, the kind of failure and the error."""

    def __init__(self, failure: TurnFailed) -> None:
        super().__init__(f"{failure.agent}'s turn failed ({failure.kind}): {failure.error}")
        self.failure = failure


_runtime: AsyncRuntime | None = None
RETRIES: ContextVar[int] = ContextVar("RETRIES", default=0)
"""How many times a run takes a failed step again (a tree file's ``retry:``)."""


def use_runtime(runtime: AsyncRuntime | None) -> None:
    """The runtime that `ActorLlm` turns go through (None: one it connects itself)."""
    global _runtime
    _runtime = runtime


async def _current_runtime() -> AsyncRuntime:
    if _runtime is None:
        use_runtime(await AsyncRuntime.connect())
    assert _runtime is not None
    return _runtime


class ActorLlm(BaseLlm):
    """The ADK model ``orchestration:NAME``: each call is one turn of our agent NAME."""

    @classmethod
    def supported_models(cls) -> list[str]:
        return [re.escape(MODEL_PREFIX) + ".+"]

    @property
    def agent(self) -> str:
        return self.model.removeprefix(MODEL_PREFIX)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncIterator[LlmResponse]:
        runtime = await _current_runtime()
        text = step_input(llm_request)
        for attempt in range(1 + RETRIES.get()):
            failure: TurnFailed | None = None
            async for item in runtime.send(self.agent, text):
                if isinstance(item, TurnDelta) and stream:
                    yield self._response(item.text, partial=True)
                elif isinstance(item, TurnFinished):
                    yield self._finished(item)
                elif isinstance(item, TurnFailed):
                    failure = item
            if failure is None:
                return
            if attempt == RETRIES.get() or failure.kind == "cancelled":
                raise StepFailed(failure)
            if stream:  # what streamed of the failed attempt stays: say why it starts over
                notice = f"\n({self.agent}'s turn failed ({failure.kind}); taking it again)\n"
                yield self._response(notice, partial=True)

    def _response(self, text: str, **fields: Any) -> LlmResponse:
        """A response of this model; its ``model_version`` names the model, so each event of
        the run names the agent that said it (`StepEvent.agent`)."""
        content = types.Content(role="model", parts=[types.Part(text=text)])
        return LlmResponse(content=content, model_version=self.model, **fields)

    def _finished(self, finished: TurnFinished) -> LlmResponse:
        """A finished turn as ADK's last response of the call, with its token usage."""
        usage = types.GenerateContentResponseUsageMetadata(
            prompt_token_count=finished.usage.input_tokens,
            candidates_token_count=finished.usage.output_tokens,
            total_token_count=finished.usage.input_tokens + finished.usage.output_tokens,
        )
        return self._response(finished.message.content, usage_metadata=usage, turn_complete=True)


LLMRegistry.register(ActorLlm)


def step_input(request: LlmRequest) -> str:
    """The text of what ADK's request holds after the agent's last reply (all of it at the
    first call): the agent has the rest in its own history."""
    contents = list(request.contents)
    replies = [i for i, content in enumerate(contents) if content.role == "model"]
    fresh = contents[replies[-1] + 1 :] if replies else contents
    texts = [part.text for content in fresh for part in content.parts or [] if part.text]
    return "\n\n".join(texts) or "(continue)"


def node_name(agent: str) -> str:
    """The ADK node name of agent ``agent``: non-identifier characters become ``_``, and a
    leading digit gets a ``_`` before it (``critic-1`` -> ``critic_1``)."""
    name = re.sub(r"\W", "_", agent)
    return f"_{name}" if name[:1].isdigit() else name


def llm_agent(agent: str, name: str | None = None, **options: Any) -> LlmAgent:
    """The ADK ``LlmAgent`` whose turns are agent ``agent``'s (named ``name``, by default
    `node_name` of the agent)."""
    return LlmAgent(name=name or node_name(agent), model=MODEL_PREFIX + agent, **options)


class StopWhen(BaseAgent):
    """Ends its loop (escalates) once the latest reply contains ``phrase``."""

    phrase: str

    async def _run_async_impl(self, ctx: Any) -> AsyncIterator[Event]:
        said = [e for e in ctx.session.events if e.content and e.author != "user"]
        last = "".join(part.text or "" for part in said[-1].content.parts) if said else ""
        yield Event(author=self.name, actions=EventActions(escalate=self.phrase in last))


def build(spec: WorkflowSpec) -> BaseAgent:
    """The ADK agent that runs a tree file's workflow: its steps in a ``SequentialAgent``,
    ``parallel:`` as a ``ParallelAgent``, ``loop:`` as a ``LoopAgent`` (with `StopWhen` for
    ``until``). A name used twice gets a number (``writer``, ``writer_2``)."""
    used: Counter[str] = Counter()

    def unique(base: str) -> str:
        used[base] += 1
        return base if used[base] == 1 else f"{base}_{used[base]}"

    def node(step: Any) -> BaseAgent:
        if isinstance(step, AgentStep):
            return llm_agent(step.agent, name=unique(node_name(step.agent)))
        children = [node(inner) for inner in step.steps]
        if isinstance(step, ParallelStep):
            return ParallelAgent(name=unique("parallel"), sub_agents=children)
        if isinstance(step, LoopStep):
            if step.until is not None:
                children.append(StopWhen(name=unique("until"), phrase=step.until))
            return LoopAgent(
                name=unique("loop"), max_iterations=step.max_iterations, sub_agents=children
            )
        return SequentialAgent(name=unique("sequence"), sub_agents=children)

    with warnings.catch_warnings():  # the legacy agents are what a tree file's steps are
        warnings.simplefilter("ignore", DeprecationWarning)
        return SequentialAgent(
            name=node_name(spec.name), sub_agents=[node(step) for step in spec.steps]
        )


@dataclass(frozen=True)
class StepEvent:
    """What a run yields: a step's streamed text (``partial``) or its whole reply. ``author``
    is ADK's node name, ``agent`` our agent behind it (or the author, for other nodes)."""

    author: str
    path: str
    text: str
    partial: bool
    agent: str


class RunJournal:
    """A run's own conversation, ``workflow:NAME:RUN``: the input, each step's reply with its
    agent and node path, and how the run ended (``workflow_finished`` or ``workflow_failed``).
    Written through the runtime, so `observe` follows it live."""

    def __init__(self, runtime: AsyncRuntime, workflow: str) -> None:
        self.runtime = runtime
        self.conversation = str(ConversationId.workflow(workflow, uuid.uuid4().hex[:8]))

    async def said(self, sender: str, text: str, **data: Any) -> None:
        await self.runtime.record(
            Envelope(conversation=self.conversation, sender=sender, content=text, data=data)
        )

    async def ended(self, event: EventName, text: str) -> None:
        await self.runtime.record(
            Envelope(
                conversation=self.conversation,
                sender=SYSTEM_SENDER,
                kind="event",
                event=event,
                content=text,
            )
        )


async def run(
    target: Target,
    text: str,
    *,
    stream: bool = True,
    retry: int = 0,
    journal: RunJournal | None = None,
) -> AsyncIterator[StepEvent]:
    """Run an ADK agent or workflow on ``text`` with ADK's in-memory runner (no Google
    service is involved); yield each step's output as it comes. A failed step is taken again
    ``retry`` times before the run fails. With ``journal``, the run is journaled there."""
    retries = RETRIES.set(retry)
    runner = (
        InMemoryRunner(agent=target)
        if isinstance(target, BaseAgent)
        else InMemoryRunner(node=target)
    )
    session = await runner.session_service.create_session(app_name=runner.app_name, user_id=USER)
    config = RunConfig(streaming_mode=StreamingMode.SSE if stream else StreamingMode.NONE)
    message = types.Content(role="user", parts=[types.Part(text=text)])
    if journal is not None:
        await journal.said("user", text)
    outcome: tuple[EventName, str] = ("workflow_failed", "cancelled")
    try:
        async for event in runner.run_async(
            user_id=USER, session_id=session.id, new_message=message, run_config=config
        ):
            said = (
                "".join(part.text or "" for part in (event.content.parts or []))
                if event.content
                else ""
            )
            if not said and event.output is not None:  # a function node's result
                said = str(event.output)
            if not said:
                continue
            step = StepEvent(
                event.author,
                event.node_info.path,
                said,
                bool(event.partial),
                _agent_of(event),
            )
            if journal is not None and not step.partial:
                await journal.said(step.agent, said, node=step.author, path=step.path)
            yield step
        outcome = ("workflow_finished", "the workflow finished")
    except Exception as exc:  # a step's turn failed (`StepFailed`), or ADK did
        outcome = ("workflow_failed", str(exc))
        raise
    finally:
        with contextlib.suppress(ValueError):  # closed from another context: it ends there
            RETRIES.reset(retries)
        await runner.close()
        if journal is not None:
            await asyncio.shield(journal.ended(*outcome))


def _agent_of(event: Event) -> str:
    """Our agent behind an event of `ActorLlm`'s (its model names it); else ADK's author."""
    model = event.model_version or ""
    return model.removeprefix(MODEL_PREFIX) if model.startswith(MODEL_PREFIX) else event.author


def load_target(spec: str) -> Target:
    """The ADK agent or workflow ``path/to/file.py:attribute`` names."""
    path_text, _, attribute = spec.rpartition(":")
    path = Path(path_text)
    if not path_text or not attribute:
        raise OrchestrationError(
            "bad_workflow", f"{spec!r} is not FILE.py:NAME", hint="for example: wf.py:root_agent"
        )
    if not path.is_file():
        raise OrchestrationError("bad_workflow", f"no file {path}", hint="check the path")
    module_name = f"orchestration_workflow_{node_name(path.stem)}"
    loader = importlib.util.spec_from_file_location(module_name, path)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules[module_name] = module
    loader.loader.exec_module(module)
    target = getattr(module, attribute, None)
    if not isinstance(target, BaseAgent | BaseNode):
        found = "nothing" if target is None else type(target).__name__
        raise OrchestrationError(
            "bad_workflow",
            f"{spec}: {attribute} is {found}, not an ADK agent or Workflow",
            hint="name a Workflow, a SequentialAgent, a ParallelAgent, a LoopAgent or an LlmAgent",
        )
    return target


def run_blocking(
    target: Target,
    text: str,
    show: Callable[[StepEvent], None],
    *,
    stream: bool = True,
    retry: int = 0,
    started: Callable[[str], None] = lambda conversation: None,
) -> None:
    """`run` from synchronous code, on its own connection to the daemon, journaled in the
    run's conversation (given to ``started`` first): ``show`` gets each `StepEvent`."""

    async def main() -> None:
        runtime = await AsyncRuntime.connect()
        use_runtime(runtime)
        journal = RunJournal(runtime, node_name(target.name))
        started(journal.conversation)
        try:
            async for event in run(target, text, stream=stream, retry=retry, journal=journal):
                show(event)
        finally:
            use_runtime(None)
            await runtime.close()

    asyncio.run(main())
