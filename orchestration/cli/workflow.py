"""``workflow run``: Google ADK workflows whose steps are turns of our supervised agents.

Google ADK is an optional extra (``uv sync --extra adk``): it is imported only when a workflow
command runs, and without it the command says how to install it.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Annotated, Any

import typer

from orchestration.cli.output import console, examples, fail, note, print_json, to_json
from orchestration.messages import AgentStep, LoopStep
from orchestration.runtime import Runtime

__all__ = ["register", "workflow"]

Json = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
JsonLines = Annotated[bool, typer.Option("--json", help="one JSON object per line")]

workflow = typer.Typer(
    help="Google ADK workflows whose steps are turns of our agents.", no_args_is_help=True
)


def _adk() -> ModuleType:
    """The ADK bridge, or a clear exit when the extra is not installed."""
    try:
        from orchestration.interfaces import adk
    except ImportError as exc:
        if not (exc.name or "").startswith("google"):
            raise
        fail(
            "the workflow commands need Google ADK, which is not installed",
            "install the extra: uv sync --extra adk  (pip: pip install 'orchestration[adk]')",
        )
    return adk


@workflow.command(
    "run",
    epilog=examples(
        'orchestration workflow run review "Review foo.py"',
        'orchestration workflow run wf.py:root_agent "Write a short essay on actors" --json',
    ),
)
def run_workflow(
    target: Annotated[
        str,
        typer.Argument(
            help="a workflow a tree file declares, or FILE.py:NAME (an ADK Workflow or agent)"
        ),
    ],
    text: Annotated[str, typer.Argument(help="the input; - reads it from stdin")],
    json: JsonLines = False,
) -> None:
    """Run a workflow: ADK decides the order, each step is one turn of our agent.

    TARGET names a workflow declared under workflows: in a tree file (see workflow list), or
    FILE.py:NAME, an ADK Workflow, SequentialAgent, ParallelAgent, LoopAgent or LlmAgent whose
    LlmAgents use orchestration:AGENT models. Each step is a turn of the supervised agent,
    journaled in its history. Ctrl-C cancels the steps that run and ends the run.
    """
    adk = _adk()
    if text == "-":
        text = sys.stdin.read()
    show = JsonSteps().show if json else StepPrinter().show
    retry = 0
    if ".py:" in target:
        workflow = adk.load_target(target)
    else:
        with Runtime.connect() as runtime:
            spec = runtime.workflow(target)
        workflow, retry = adk.build(spec), spec.retry
    run: list[str] = []

    def started(conversation: str) -> None:
        run.append(conversation)
        if json:
            print_json({"type": "run_started", "run": conversation})
        else:
            note(f"run {conversation}; follow it elsewhere: orchestration observe {conversation}")

    try:
        adk.run_blocking(workflow, text, show, retry=retry, started=started)
    except adk.StepFailed as exc:
        fail(str(exc), f"see `orchestration history {exc.failure.agent}`; then run it again")
    except KeyboardInterrupt:
        note("\n(run cancelled)")
        raise typer.Exit(130) from None
    if json:
        print_json({"type": "run_finished", "run": run[0] if run else None})


@workflow.command(
    "list", epilog=examples("orchestration workflow list", "orchestration workflow list --json")
)
def list_workflows(
    json: Json = False,
) -> None:
    """List the workflows the tree files declare, with their agents."""
    with Runtime.connect() as runtime:
        declared = runtime.workflows()
    if json:
        print_json([w.model_dump(mode="json") for w in declared])
        return
    if not declared:
        console.print("no workflows yet: declare them under workflows: in a tree file")
        return
    for spec in declared:
        retry = f", retry {spec.retry}" if spec.retry else ""
        console.print(
            f"{spec.name} (tree {spec.tree}{retry}): {', '.join(spec.agents())}", markup=False
        )


@workflow.command(epilog=examples("orchestration workflow show review"))
def show(name: Annotated[str, typer.Argument(help="the workflow")]) -> None:
    """Draw a declared workflow's steps as a tree."""
    from rich.tree import Tree

    with Runtime.connect() as runtime:
        spec = runtime.workflow(name)
    drawing = Tree(f"{spec.name} (tree {spec.tree})")
    _draw(drawing, spec.steps)
    console.print(drawing)


def _draw(branch: Any, steps: Any) -> None:
    for step in steps:
        if isinstance(step, AgentStep):
            branch.add(step.agent)
            continue
        label = step.type
        if isinstance(step, LoopStep):
            until = f", until {step.until!r}" if step.until else ""
            label = f"loop (at most {step.max_iterations}{until})"
        _draw(branch.add(label), step.steps)


@workflow.command(
    "runs", epilog=examples("orchestration workflow runs", "orchestration workflow runs --json")
)
def list_runs(
    json: Json = False,
) -> None:
    """List the workflow runs in the journal, oldest first, with how each ended."""
    with Runtime.connect() as runtime:
        runs = [(run, runtime.run_history(run, limit=1, newest=True)) for run in runtime.runs()]
    rows = [
        {"run": run, "state": _state(last[0] if last else None), "last": _when(last)}
        for run, last in runs
    ]
    if json:
        print_json(rows)
        return
    if not rows:
        console.print("no workflow runs yet: orchestration workflow run NAME TEXT")
    for row in rows:
        console.print(f"{row['run']}  {row['state']}  {row['last']}", markup=False)


@workflow.command(
    "history", epilog=examples("orchestration workflow history workflow:review:1a2b3c4d")
)
def run_history(
    run: Annotated[str, typer.Argument(help="the run: workflow:NAME:RUN, or its RUN part")],
    json: JsonLines = False,
) -> None:
    """Print a workflow run as the journal holds it: input, each step, and its end."""
    with Runtime.connect() as runtime:
        conversation = _find_run(runtime.runs(), run)
        said = runtime.run_history(conversation)
    for message in said:
        if json:
            print_json(to_json(message))
        elif message.kind == "event":
            console.print(f"* {message.event}: {message.content}", markup=False, style="dim")
        else:
            path = f" ({message.data['path']})" if message.data.get("path") else ""
            console.print(f"{message.sender}{path}: {message.content}", markup=False)


def _find_run(runs: list[str], wanted: str) -> str:
    found = [run for run in runs if run == wanted or run.endswith(f":{wanted}")]
    if len(found) != 1:
        known = ", ".join(runs[-5:]) or "none yet"
        fail(f"no workflow run {wanted!r} (latest: {known})", "see orchestration workflow runs")
    return found[0]


def _state(last: Any) -> str:
    if last is None or last.kind != "event":
        return "running"
    return "finished" if last.event == "workflow_finished" else f"failed: {last.content}"


def _when(last: list[Any]) -> str:
    return last[0].created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if last else "-"


class JsonSteps:
    """``--json``: a ``step_started`` before a step's first text, then ``delta``s and its
    ``step_finished``."""

    def __init__(self) -> None:
        self.running: set[str] = set()

    def show(self, event: Any) -> None:
        fields = {"author": event.author, "agent": event.agent, "path": event.path}
        if event.path not in self.running:
            self.running.add(event.path)
            print_json({"type": "step_started", **fields})
        if event.partial:
            print_json({"type": "delta", **fields, "text": event.text})
        else:
            self.running.discard(event.path)
            print_json({"type": "step_finished", **fields, "text": event.text})


class StepPrinter:
    """Text output: a step's reply as it streams, after its author's name. While one reply
    streams, the others (parallel branches) are held and printed whole once it ends."""

    def __init__(self) -> None:
        self.streaming: str | None = None  # the author whose reply is being printed
        self.skipped: set[str] = set()  # authors whose reply began while another streamed
        self.held: list[Any] = []  # replies that ended while another streamed

    def show(self, event: Any) -> None:
        if event.partial:
            if self.streaming is None and event.author not in self.skipped:
                self.streaming = event.author
                sys.stdout.write(f"{event.author} › ")
            if self.streaming == event.author:
                sys.stdout.write(event.text)
            else:
                self.skipped.add(event.author)
        elif self.streaming == event.author:
            self.streaming = None
            sys.stdout.write("\n")
            for held in self.held:
                sys.stdout.write(f"{held.author} › {held.text}\n")
            self.held.clear()
        elif self.streaming is None:
            sys.stdout.write(f"{event.author} › {event.text}\n")
        else:
            self.held.append(event)
        if not event.partial:
            self.skipped.discard(event.author)
        sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.add_typer(workflow, name="workflow")
