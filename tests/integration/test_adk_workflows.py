"""Google ADK workflows through the bus: real ADK runs them, each step is one turn of our agent
(on the real Anthropic and OpenAI SDKs against the fake LLM server, or scripted)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

adk = pytest.importorskip("orchestration.interfaces.adk")

from google.adk.agents import LoopAgent, ParallelAgent, SequentialAgent  # noqa: E402
from google.adk.workflow import Workflow  # noqa: E402

from orchestration.aio import AsyncRuntime  # noqa: E402
from orchestration.messages import AgentStep, WorkflowSpec  # noqa: E402
from orchestration.runtime import Runtime  # noqa: E402
from tests.fakes import FakeLLMServer  # noqa: E402
from tests.fakes.fake_llm import Directive  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*is deprecated in favor of Workflow:DeprecationWarning"
)  # the legacy SequentialAgent, ParallelAgent and LoopAgent must keep working
SLOW_REPLY = "[[scripted: delay=0.05; reply=a b c d e f g h i j]]"  # 10 words: about 0.5 s


def _run(target: Any, text: str, retry: int = 0) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in adk.run(target, text, retry=retry)]

    return asyncio.run(collect())


def _finals(events: list[Any]) -> list[tuple[str, str]]:
    return [(event.author, event.text) for event in events if not event.partial]


def _replies(runtime: Runtime, agent: str) -> list[str]:
    return [m.content for m in runtime.history(agent) if m.sender == agent]


@pytest.mark.parametrize("shape", ["SequentialAgent", "Workflow"])
def test_a_sequence_of_an_anthropic_and_an_openai_agent_hands_on_the_first_output(
    bridged: Runtime, fake: FakeLLMServer, shape: str
) -> None:
    bridged.spawn("writer", provider="anthropic")
    bridged.spawn("critic-1", provider="openai", model="gpt-test")
    writer, critic = adk.llm_agent("writer"), adk.llm_agent("critic-1")
    target = (
        SequentialAgent(name="pair", sub_agents=[writer, critic])
        if shape == "SequentialAgent"
        else Workflow(name="pair", edges=[("START", writer, critic)])
    )

    events = _run(target, "Write about actors")

    finals = _finals(events)
    assert finals[0] == ("writer", "You said: Write about actors")
    assert finals[1][0] == "critic_1", "a name that is no identifier is mapped"
    assert [e.agent for e in events if not e.partial] == ["writer", "critic-1"], "and back"
    assert [request.api for request in fake.requests] == ["anthropic", "openai"]
    assert "You said: Write about actors" in fake.requests[1].last_user_text
    assert any(event.partial for event in events), "replies stream as ADK asked"
    assert _replies(bridged, "writer") == ["You said: Write about actors"]
    assert _replies(bridged, "critic-1") == [finals[1][1]], "each step is journaled"


def test_parallel_branches_take_their_turns_at_the_same_time(bridged: Runtime) -> None:
    for name in ("left", "right"):
        bridged.spawn(name, provider="scripted")
    both = ParallelAgent(name="both", sub_agents=[adk.llm_agent("left"), adk.llm_agent("right")])

    finals = _finals(_run(both, f"go {SLOW_REPLY}"))

    assert sorted(author for author, _ in finals) == ["left", "right"]
    spans = []
    for name in ("left", "right"):
        asked, replied = bridged.history(name)[-2:]
        spans.append((asked.created_at, replied.created_at))
    assert max(start for start, _ in spans) < min(end for _, end in spans), "the turns overlap"


def test_a_loop_honours_max_iterations_and_a_stop_condition(bridged: Runtime) -> None:
    bridged.spawn("poet", provider="scripted")
    loop = LoopAgent(name="loop", max_iterations=3, sub_agents=[adk.llm_agent("poet")])

    assert len(_finals(_run(loop, "a verse"))) == 3
    assert len(_replies(bridged, "poet")) == 3

    bridged.spawn("finisher", provider="scripted")
    stopping = LoopAgent(
        name="stopping",
        max_iterations=5,
        sub_agents=[adk.llm_agent("finisher"), adk.StopWhen(name="judge", phrase="DONE")],
    )
    _run(stopping, "[[scripted: reply=DONE]]")
    assert _replies(bridged, "finisher") == ["DONE"], "stopped after the first round"


def test_a_failing_step_raises_naming_its_agent(bridged: Runtime) -> None:
    bridged.spawn("flaky", provider="anthropic")
    with pytest.raises(adk.StepFailed, match=r"flaky's turn failed \(bad_request\)"):
        _run(adk.llm_agent("flaky"), "[[fake:status=400]]")


def test_only_the_new_input_is_sent_the_agent_keeps_its_history(
    bridged: Runtime, fake: FakeLLMServer
) -> None:
    bridged.spawn("twice", provider="anthropic")
    loop = LoopAgent(name="again", max_iterations=2, sub_agents=[adk.llm_agent("twice")])

    _run(loop, "start")

    second = fake.requests[-1].messages
    assert second[:2] == [("user", "start"), ("assistant", "You said: start")]
    assert len(second) == 3, "its own journaled history, then one new message"


WORKFLOW_FILE = """\
from google.adk.agents import SequentialAgent
from orchestration.interfaces.adk import llm_agent

root_agent = SequentialAgent(name="pair", sub_agents=[llm_agent("one"), llm_agent("two")])
"""


def test_the_cli_runs_a_workflow_file(bridged: Runtime, tmp_path: Path) -> None:
    for name in ("one", "two"):
        bridged.spawn(name, provider="scripted")
    path = tmp_path / "wf.py"
    path.write_text(WORKFLOW_FILE)
    command = [sys.executable, "-m", "orchestration.cli", "workflow", "run"]

    text = subprocess.run(
        [*command, f"{path}:root_agent", "hello"], capture_output=True, text=True, timeout=60
    )
    lines = subprocess.run(
        [*command, f"{path}:root_agent", "again", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert text.returncode == 0, text.stderr
    assert "one › You said: hello" in text.stdout
    assert lines.returncode == 0, lines.stderr
    objects = [json.loads(line) for line in lines.stdout.splitlines()]
    assert objects[0]["type"] == "run_started" and objects[0]["run"].startswith("workflow:pair:")
    assert objects[-1] == {"type": "run_finished", "run": objects[0]["run"]}
    finished = [o for o in objects if o["type"] == "step_finished"]
    assert (finished[0]["agent"], finished[0]["text"]) == ("one", "You said: again")
    assert [o["agent"] for o in finished] == ["one", "two"]
    missing = subprocess.run(
        [*command, f"{path}:nothing", "hi"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "not an ADK agent or Workflow" in missing.stderr


def test_without_the_extra_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    hide_adk = (
        "import sys; sys.modules['google.adk'] = None; sys.argv = ['orchestration', 'workflow',"
        " 'run', 'wf.py:x', 'hi']; from orchestration.cli.app import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_adk], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 1
    assert "uv sync --extra adk" in done.stderr


def test_the_base_install_never_imports_adk() -> None:
    probe = (
        "import sys\n"
        "import orchestration.cli.app, orchestration.runtime, orchestration.aio\n"
        "import orchestration.interfaces.rest, orchestration.interfaces.mcp\n"
        "from orchestration.cli import agents, chat, daemon, rooms, workflow\n"
        "print(sorted(m for m in sys.modules if m.startswith('google.adk')))\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_failed_step_is_taken_again_once_with_retry_and_no_reply_is_doubled(
    bridged: Runtime, fake: FakeLLMServer
) -> None:
    bridged.spawn("flaky", provider="anthropic")
    once = WorkflowSpec(name="once", tree="t", steps=(AgentStep(agent="flaky"),), retry=1)

    fake.script(Directive(status=400))  # the first request fails, the next ones answer
    finals = _finals(_run(adk.build(once), "hi", retry=1))

    assert finals == [("flaky", "You said: hi")]
    assert len(fake.requests) == 2
    assert len(_replies(bridged, "flaky")) == 1
    fake.script(Directive(status=400))
    with pytest.raises(adk.StepFailed):
        _run(adk.build(once), "again")


TEAM = """\
tree:
  name: team
  children:
    - {name: drafter, model: "scripted:echo"}
    - {name: checker-1, model: "scripted:echo"}
workflows:
  - name: review
    steps:
      - drafter
      - parallel: [checker-1, drafter]
      - loop: {max_iterations: 3, until: "You said", steps: [checker-1]}
"""


def test_a_tree_files_workflows_are_listed_shown_and_run_by_name(
    bridged: Runtime, tmp_path: Path
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM)
    bridged.up(path)
    assert [w.name for w in bridged.workflows()] == ["review"]
    cli = [sys.executable, "-m", "orchestration.cli", "workflow"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=60)

    listed, shown, ran = run("list"), run("show", "review"), run("run", "review", "go")

    assert listed.returncode == 0 and "review (tree team): drafter, checker-1" in listed.stdout
    assert shown.returncode == 0, shown.stderr
    assert "parallel" in shown.stdout and "loop (at most 3, until 'You said')" in shown.stdout
    assert ran.returncode == 0, ran.stderr
    assert len(_replies(bridged, "drafter")) == 2
    assert len(_replies(bridged, "checker-1")) == 2, "the loop stopped after its first round"
    unknown = run("run", "nope", "go")
    assert unknown.returncode == 1 and "no workflow named 'nope'" in unknown.stderr


def test_a_run_is_journaled_in_its_own_conversation_that_observe_follows(
    bridged: Runtime, fake: FakeLLMServer
) -> None:
    bridged.spawn("first", provider="scripted")
    bridged.spawn("second-1", provider="anthropic")
    pair = SequentialAgent(
        name="pair", sub_agents=[adk.llm_agent("first"), adk.llm_agent("second-1")]
    )

    async def journaled(text: str) -> str:
        journal = adk.RunJournal(AsyncRuntime(bridged), "pair")
        with contextlib.suppress(adk.StepFailed):
            async for _ in adk.run(pair, text, journal=journal):
                pass
        return journal.conversation

    done = asyncio.run(journaled("go"))

    said = bridged.run_history(done)
    assert [(m.sender, m.kind) for m in said] == [
        ("user", "chat"),
        ("first", "chat"),
        ("second-1", "chat"),  # our agent, not its node second_1
        ("system", "event"),
    ]
    assert said[1].content == "You said: go" and said[1].data["node"] == "first"
    assert said[-1].event == "workflow_finished"
    fake.script(Directive(status=400))
    failed = asyncio.run(journaled("again"))
    ending = bridged.run_history(failed)[-1]
    assert ending.event == "workflow_failed" and "second-1's turn failed" in ending.content
    assert bridged.runs()[-2:] == [done, failed]

    cli = [sys.executable, "-m", "orchestration.cli"]
    observed = subprocess.run(
        [*cli, "observe", done, "--json"], capture_output=True, text=True, timeout=60
    )
    assert observed.returncode == 0, observed.stderr
    assert json.loads(observed.stdout.splitlines()[-1])["event"] == "workflow_finished"
    observed_failure = subprocess.run(
        [*cli, "observe", failed], capture_output=True, text=True, timeout=60
    )
    assert observed_failure.returncode == 1
    run_id = failed.rsplit(":", 1)[1]
    history = subprocess.run(
        [*cli, "workflow", "history", run_id], capture_output=True, text=True, timeout=60
    )
    assert history.returncode == 0 and "* workflow_failed:" in history.stdout
    runs = subprocess.run(
        [*cli, "workflow", "runs", "--json"], capture_output=True, text=True, timeout=60
    )
    states = {row["run"]: row["state"] for row in json.loads(runs.stdout)}
    assert states[done] == "finished" and states[failed].startswith("failed:")


def shout(node_input: str) -> str:
    """A plain function node: ADK runs it between two turns."""
    return str(node_input).upper()


def test_a_nested_workflow_and_a_function_node_run_as_adk_runs_them(bridged: Runtime) -> None:
    for name in ("inner-one", "outer-two"):
        bridged.spawn(name, provider="scripted")
    inner = Workflow(name="inner", edges=[("START", adk.llm_agent("inner-one"))])
    outer = Workflow(name="outer", edges=[("START", inner, shout, adk.llm_agent("outer-two"))])

    finals = _finals(_run(outer, "hello"))

    assert finals == [
        ("inner_one", "You said: hello"),
        ("outer", "YOU SAID: HELLO"),
        ("outer_two", "You said: YOU SAID: HELLO"),
    ]
