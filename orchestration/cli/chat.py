"""``chat [NAME]``: the interactive REPL with one agent.

On a terminal it reads with prompt_toolkit (line editing, history); otherwise it reads stdin
line by line and prints each reply, so it can be scripted. Ctrl-C cancels the reply being
streamed and keeps the session; ``/history`` prints the conversation; ``/quit`` or Ctrl-D ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated

import typer

from orchestration.cli.agents import explain_default
from orchestration.cli.agents import history as print_history
from orchestration.cli.output import console, examples, note, print_error
from orchestration.cli.streaming import print_turn
from orchestration.messages import AgentInfo
from orchestration.private_files import touch_private
from orchestration.runtime import OrchestrationError, Runtime

__all__ = ["chat", "register"]

DEFAULT_AGENT = "assistant"
HELP = "/history shows the conversation, /quit ends; Ctrl-C cancels a reply"
OFFLINE_HINT = (
    "offline: {name} runs on the scripted provider, which echoes you. To talk to a real model, "
    "log in to Claude Code (`claude`, for your Claude subscription), or set ANTHROPIC_API_KEY "
    "(Claude) or OPENAI_API_KEY (GPT); then run `orchestration down` and chat again."
)


def chat(
    name: Annotated[
        str | None, typer.Argument(help=f"the agent (default: {DEFAULT_AGENT}, created if needed)")
    ] = None,
) -> None:
    """Talk with an agent; its replies stream as they are written."""
    with Runtime.connect() as runtime:
        if runtime.started:
            note(f"started the orchestration daemon on port {runtime.settings.admin_port}")
        agent = _agent(runtime, name)
        note(f"chatting with {agent.spec.name} on {agent.spec.model_ref}. {HELP}")
        explain_default(runtime, agent)
        if agent.spec.provider == "scripted":
            note(OFFLINE_HINT.format(name=agent.spec.name))
        for line in _lines(runtime):
            text = line.strip()
            if text in ("/quit", "/exit"):
                break
            if text == "/history":
                print_history(agent.spec.name)
                continue
            if text in ("/help", "/?"):
                note(HELP)
                continue
            if text:
                _turn(runtime, agent.spec.name, text)


def _turn(runtime: Runtime, name: str, text: str) -> None:
    """One exchange; a refused message (too long, say) is reported and the session goes on."""
    try:
        print_turn(runtime.send(name, text))
    except OrchestrationError as exc:
        print_error(str(exc), exc.hint)


def _agent(runtime: Runtime, name: str | None) -> AgentInfo:
    if name is None:
        return runtime.spawn(DEFAULT_AGENT, exist_ok=True).agent
    return runtime.resolve(name).agent


def _lines(runtime: Runtime) -> Iterator[str]:
    """The user's input lines, from a prompt on a terminal or from stdin otherwise."""
    if not sys.stdin.isatty():
        yield from sys.stdin
        return
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = touch_private(runtime.settings.home / "chat_history")
    session: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    while True:
        try:
            yield session.prompt("you › ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            console.print()
            return


def register(app: typer.Typer) -> None:
    app.command(epilog=examples("orchestration chat", "orchestration chat writer"))(chat)
