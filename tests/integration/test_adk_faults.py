"""Faults under an ADK workflow (real daemon, real ADK): a step's agent killed with SIGKILL while
its turn streams, and a run cancelled mid-step. The supervisor restarts the agent, the run
fails naming it (or takes the step again with ``retry``), and the journal never holds a reply
twice."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

adk = pytest.importorskip("orchestration.interfaces.adk")

from google.adk.agents import SequentialAgent  # noqa: E402

from orchestration.messages import Envelope  # noqa: E402
from orchestration.runtime import Runtime  # noqa: E402
from tests.support import kill_and_await_restart, wait_for_states, wait_until  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*is deprecated in favor of Workflow:DeprecationWarning"
)  # the legacy SequentialAgent must keep working
WORDS = " ".join(f"w{index}" for index in range(40))
SLOW_REPLY = f"[[scripted: delay=0.05; reply={WORDS}]]"  # 40 words: about 2 s
RUN_DEADLINE = 30.0


@dataclass
class BackgroundRun:
    """An ADK run on its own thread and event loop: its events, how it ended, and a flag set
    at its first streamed text (the step's turn is under way)."""

    target: Any
    text: str
    retry: int = 0
    events: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    streaming: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> BackgroundRun:
        threading.Thread(target=self._main, daemon=True).start()
        return self

    def _main(self) -> None:
        async def collect() -> None:
            async for event in adk.run(self.target, self.text, retry=self.retry):
                self.events.append(event)
                if event.partial:
                    self.streaming.set()

        try:
            asyncio.run(collect())
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def wait_streaming(self) -> None:
        assert self.streaming.wait(RUN_DEADLINE), f"no streamed text; ended with {self.error!r}"

    def wait_done(self) -> None:
        assert self.done.wait(RUN_DEADLINE), f"the run did not end within {RUN_DEADLINE:g} s"


def _inputs(runtime: Runtime, agent: str, text: str) -> list[Envelope]:
    """The messages said to ``agent`` with this text (each attempt at a step is one)."""
    return [m for m in runtime.history(agent) if m.sender != agent and m.content == text]


def _replies_to(runtime: Runtime, agent: str, text: str) -> list[Envelope]:
    """The agent's replies to any message said to it with this text."""
    asked = {m.id for m in _inputs(runtime, agent, text)}
    return [
        m
        for m in runtime.history(agent)
        if m.sender == agent and m.kind == "chat" and m.in_reply_to in asked
    ]


def _failures_of(runtime: Runtime, agent: str, text: str) -> list[Envelope]:
    """The journal's ``turn_failed`` records of turns that answered this text."""
    asked = {m.id for m in _inputs(runtime, agent, text)}
    return [
        m for m in runtime.history(agent) if m.event == "turn_failed" and m.in_reply_to in asked
    ]


def _pid(runtime: Runtime, agent: str) -> int:
    pid = runtime.resolve(agent).agent.pid
    assert pid is not None
    return pid


def _finals(events: list[Any]) -> list[tuple[str, str]]:
    return [(event.author, event.text) for event in events if not event.partial]


def _kill_the_first_step_mid_turn(
    bridged: Runtime, retry: int
) -> tuple[str, int, BackgroundRun, Any]:
    """Run ``victim`` then ``after``; kill -9 ``victim`` once its step streams; wait for its
    restart and the run's end. Returns the step's input, the old pid, the run and the restart
    event."""
    bridged.spawn("victim", provider="scripted")
    bridged.spawn("after", provider="scripted")
    workflow = SequentialAgent(
        name="pair", sub_agents=[adk.llm_agent("victim"), adk.llm_agent("after")]
    )
    text = f"draft {SLOW_REPLY}"
    before = _pid(bridged, "victim")
    run = BackgroundRun(workflow, text, retry=retry).start()
    run.wait_streaming()
    restarted = kill_and_await_restart(bridged, "victim")
    run.wait_done()
    return text, before, run, restarted


def test_a_step_whose_agent_is_killed_fails_the_run_naming_it_and_no_reply_is_doubled(
    bridged: Runtime,
) -> None:
    text, before, run, restarted = _kill_the_first_step_mid_turn(bridged, retry=0)

    assert isinstance(run.error, adk.StepFailed), f"the run ended with {run.error!r}"
    assert run.error.failure.agent == "victim"
    assert "victim went down during the turn" in str(run.error)
    assert _finals(run.events) == [], "no step finished; the second never ran"
    assert bridged.history("after") == []
    wait_for_states(bridged, {"victim": "idle"})
    assert _pid(bridged, "victim") == restarted.data["pid"] != before
    # A turn queued after it shows the killed one is settled: the router takes turns in order.
    assert bridged.send("victim", "still there?").result().message.content == (
        "You said: still there?"
    )
    assert _replies_to(bridged, "victim", text) == [], "the killed turn was not answered"
    assert len(_failures_of(bridged, "victim", text)) == 1
    assert len(_inputs(bridged, "victim", text)) == 1, "retry=0 sends the step once"


def test_with_retry_the_step_of_a_killed_agent_is_taken_again_and_answered_once(
    bridged: Runtime,
) -> None:
    text, before, run, restarted = _kill_the_first_step_mid_turn(bridged, retry=1)

    assert run.error is None, f"the run failed: {run.error!r}"
    finals = _finals(run.events)
    assert [author for author, _ in finals] == ["victim", "after"]
    assert finals[0][1] == WORDS, "the step taken again replied in full"
    streamed = "".join(e.text for e in run.events if e.partial and e.author == "victim")
    assert "victim's turn failed (" in streamed and "taking it again" in streamed
    assert streamed.endswith(WORDS), "then the reply of the attempt that was answered"
    assert restarted.data["pid"] != before
    replies = _replies_to(bridged, "victim", text)
    assert [reply.content for reply in replies] == [WORDS], "exactly one reply to the step"
    assert len(_failures_of(bridged, "victim", text)) == 1, "the killed attempt failed once"
    assert len(_inputs(bridged, "victim", text)) == 2, "the step was sent once more"
    assert len(bridged.history("after")) == 2, "the next step ran once"
    wait_for_states(bridged, {"victim": "idle", "after": "idle"})


def test_cancelling_a_run_ends_the_running_turn_and_the_agent_takes_the_next(
    bridged: Runtime,
) -> None:
    bridged.spawn("slow", provider="scripted")
    text = f"ramble {SLOW_REPLY}"

    async def cancel_while_streaming() -> list[Envelope]:
        streaming = asyncio.Event()

        async def consume() -> None:
            async for event in adk.run(adk.llm_agent("slow"), text):
                if event.partial:
                    streaming.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(streaming.wait(), RUN_DEADLINE)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # still inside the run's event loop: the turn ends because the run was cancelled,
        # not because the loop was torn down
        return await asyncio.to_thread(
            wait_until,
            lambda: _failures_of(bridged, "slow", text),
            "the cancelled turn's turn_failed record",
        )

    failures = asyncio.run(cancel_while_streaming())

    assert [f.data["kind"] for f in failures] == ["cancelled"]
    wait_for_states(bridged, {"slow": "idle"})
    assert _replies_to(bridged, "slow", text) == [], "the cancelled turn left no reply"
    events = asyncio.run(_collect(adk.llm_agent("slow"), "and now?"))
    assert _finals(events) == [("slow", "You said: and now?")]


async def _collect(target: Any, text: str) -> list[Any]:
    return [event async for event in adk.run(target, text)]
