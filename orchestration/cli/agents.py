"""``spawn``, ``list``, ``send``, ``history`` and ``shutdown``: agents one command at a time."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestration.cli.output import ago, console, examples, fail, note, print_json, to_json
from orchestration.cli.streaming import print_turn
from orchestration.messages import (
    AgentInfo,
    AgentSpec,
    ClaudeCodeOptions,
    Spawned,
    TurnFailed,
    default_of,
)
from orchestration.runtime import OrchestrationError, Runtime

__all__ = [
    "Json",
    "credentials_hint",
    "explain_default",
    "history",
    "list_agents",
    "register",
    "send",
    "shutdown",
    "spawn",
]

Json = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def spawn(
    name: Annotated[str, typer.Argument(help="the agent's name")],
    provider: Annotated[
        str, typer.Option(help="provider, or provider:model (default: the daemon's default)")
    ] = default_of(AgentSpec, "provider"),
    model: Annotated[str, typer.Option(help="model name (default: the provider's)")] = default_of(
        AgentSpec, "model"
    ),
    system: Annotated[str, typer.Option("--system", help="the agent's instructions")] = (
        default_of(AgentSpec, "system")
    ),
    system_file: Annotated[
        Path | None, typer.Option(help="read the instructions from this file", exists=True)
    ] = None,
    recovery: Annotated[
        str, typer.Option(help="after a crash: resume (reload history) or clean")
    ] = default_of(AgentSpec, "recovery"),
    turn_timeout: Annotated[
        float | None,
        typer.Option(help="seconds a turn may run before the agent is killed and restarted"),
    ] = default_of(AgentSpec, "turn_timeout"),
    under: Annotated[
        str, typer.Option(help="the supervisor to add it to (see `orchestration tree`)")
    ] = "root",
    command: Annotated[
        str | None,
        typer.Option(help='run this program as the agent, e.g. "python my_agent.py"'),
    ] = None,
    protocol: Annotated[
        str, typer.Option(help="with --command: jsonl, or lines[?end=SENTINEL&idle=SECONDS]")
    ] = "jsonl",
    cwd: Annotated[
        Path | None,
        typer.Option(help="with --command or claude-code: where it runs (default: here)"),
    ] = None,
    permission_mode: Annotated[
        str, typer.Option(help="claude-code: what it may do unasked (plan never edits)")
    ] = default_of(ClaudeCodeOptions, "permission_mode"),
    allowed_tools: Annotated[
        str, typer.Option(help="claude-code: tools it may use, e.g. Read,Grep")
    ] = "",
    max_budget_usd: Annotated[
        float | None, typer.Option(help="claude-code: the most a turn may cost")
    ] = default_of(ClaudeCodeOptions, "max_budget_usd"),
    keep_env: Annotated[
        str,
        typer.Option(help="claude-code: credential variables to pass on, e.g. ANTHROPIC_API_KEY"),
    ] = "",
    json: Json = False,
) -> None:
    """Create an agent that runs in its own supervised process.

    The root supervises it, or --under a tree's supervisor, which keeps it in that tree."""
    if system and system_file:
        fail("give --system or --system-file, not both")
    if recovery not in ("resume", "clean"):
        fail(
            f"--recovery must be resume or clean, not {recovery!r}",
            "resume reloads the agent's history after a restart; clean starts it empty",
        )
    if system_file is not None:
        system = system_file.read_text()
    provider, _, inline_model = provider.partition(":")
    argv: list[str] = []
    if command is not None:
        argv = shlex.split(command)
        if not argv:
            fail("--command is empty", 'e.g. --command "python my_agent.py"')
        provider, inline_model = "command" if provider == "default" else provider, protocol
    runs_here = argv or provider == "claude-code"
    options = {
        "provider": provider,
        "model": model or inline_model,
        "system_prompt": system,
        "recovery": "clean" if recovery == "clean" else "resume",
        "turn_timeout": turn_timeout,
        "under": under,
        "command": argv,
        "cwd": str((cwd or Path.cwd()).resolve()) if runs_here else None,
        "permission_mode": permission_mode,
        "allowed_tools": _names(allowed_tools),
        "max_budget_usd": max_budget_usd,
        "keep_env": _names(keep_env),
    }
    with Runtime.connect() as runtime:
        spawned = _spawn(runtime, name, options)
    if json:
        print_json(_agent_json(spawned.agent))
    else:
        agent = spawned.agent
        where = "" if agent.supervisor == "root" else f" under {agent.supervisor}"
        program = f", program pid {agent.process_pid}" if agent.process_pid else ""
        console.print(
            f"spawned {agent.spec.name} on {agent.spec.model_ref}{where} (pid {agent.pid}{program})"
        )
        explain_default(runtime, agent)


def explain_default(runtime: Runtime, agent: AgentInfo) -> None:
    """Say why an agent that took the default provider got this one (when it is not the
    offline fallback, which explains itself)."""
    if agent.spec.follows_default and agent.spec.provider != "scripted":
        from orchestration.providers.registry import default_model_ref

        why = default_model_ref(runtime.settings)[2]
        note(f"{agent.spec.provider} is the default provider: {why}")


def _names(listed: str) -> list[str]:
    """``"Read, Grep"`` -> ``["Read", "Grep"]``."""
    return [name.strip() for name in listed.split(",") if name.strip()]


def _spawn(runtime: Runtime, name: str, options: dict[str, Any]) -> Spawned:
    """`Runtime.spawn`, saying so when the daemon lacks a credential this shell has."""
    try:
        return runtime.spawn(name, **options)
    except OrchestrationError as exc:
        if exc.code == "credentials":
            fail(str(exc), credentials_hint(options["provider"], exc.hint))
        raise


def credentials_hint(provider: str, hint: str) -> str:
    """Say so when this shell has the credential the daemon lacks."""
    from orchestration.providers.registry import provider_class
    from orchestration.settings import load_settings

    if provider_class(provider).credential_status(load_settings()).present:
        return (
            "this shell has the credential but the running daemon was started without it: "
            "run `orchestration down` and retry from this shell, or put it in orchestration.toml"
        )
    return hint


def list_agents(json: Json = False) -> None:
    """List agents: name, provider:model, state, PID, turns and last activity."""
    with Runtime.connect() as runtime:
        agents = runtime.list()
    if json:
        print_json([_agent_json(agent) for agent in agents])
        return
    if not agents:
        console.print("no agents yet: `orchestration chat` or `orchestration spawn NAME`")
        return
    from rich.table import Table  # here: `send` and the others need no table

    in_trees = any(agent.supervisor != "root" for agent in agents)
    columns = ["name", "model", "supervisor", "state", "pid", "turns", "restarts", "last activity"]
    table = Table(*(c for c in columns if in_trees or c != "supervisor"))
    for agent in agents:
        table.add_row(
            agent.spec.name,
            agent.spec.model_ref,
            *([agent.supervisor] if in_trees else []),
            agent.state,
            _pids(agent),
            str(agent.turns),
            str(agent.restarts),
            ago(agent.last_activity),
        )
    console.print(table)


def _pids(agent: AgentInfo) -> str:
    """``1234``, or ``1234 → 1240`` for a subprocess agent (its actor, then its program)."""
    pid = str(agent.pid or "-")
    return f"{pid} → {agent.process_pid}" if agent.process_pid else pid


def _agent_json(agent: AgentInfo) -> dict[str, object]:
    return {
        "name": agent.spec.name,
        "provider": agent.spec.provider,
        "model": agent.spec.model,
        "supervisor": agent.supervisor,
        "restart": agent.restart,
        "state": agent.state,
        "pid": agent.pid,
        "process_pid": agent.process_pid,
        "turns": agent.turns,
        "restarts": agent.restarts,
        "last_activity": agent.last_activity.isoformat() if agent.last_activity else None,
        "last_error": agent.last_error,
    }


def send(
    name: Annotated[str, typer.Argument(help="the agent")],
    text: Annotated[str, typer.Argument(help="the message; - reads it from stdin")],
    json: Json = False,
) -> None:
    """Send one message and stream the reply."""
    if text == "-":
        text = sys.stdin.read()
    with Runtime.connect() as runtime:
        stream = runtime.send(name, text)
        if json:
            failed = False
            for event in stream:
                print_json(to_json(event))
                failed = failed or isinstance(event, TurnFailed)
        else:
            failed = isinstance(print_turn(stream), TurnFailed)
    if failed:
        raise typer.Exit(1)


def history(
    name: Annotated[str, typer.Argument(help="the agent")],
    limit: Annotated[int, typer.Option(help="at most this many messages")] = 1000,
    json: Json = False,
) -> None:
    """Print the agent's conversation as the journal holds it."""
    with Runtime.connect() as runtime:
        messages = runtime.history(name, limit=limit)
    if json:
        print_json([to_json(message) for message in messages])
        return
    for message in messages:
        stamp = message.created_at.strftime("%H:%M:%S")
        if message.kind == "event":
            console.print(f"[dim]{stamp} · {message.content}[/]", markup=True, soft_wrap=True)
        else:
            console.print(f"[dim]{stamp}[/] [bold]{message.sender}[/]: ", end="", markup=True)
            console.print(message.content, markup=False, soft_wrap=True)


def shutdown(
    name: Annotated[str | None, typer.Argument(help="the agent or supervisor to stop")] = None,
    all_agents: Annotated[bool, typer.Option("--all", help="stop every agent and tree")] = False,
    grace: Annotated[
        float | None,
        typer.Option(help="seconds to finish the current turn (default: the agent's shutdown)"),
    ] = None,
) -> None:
    """Stop an agent, or a supervisor and all below it, for good.

    It is removed from the tree; its history stays in the journal."""
    if (name is None) == (not all_agents):
        fail("name one agent, or pass --all", "e.g. orchestration shutdown assistant")
    with Runtime.connect(start=False) as runtime:
        if all_agents:
            stopped = runtime.shutdown_all(grace=grace)
            console.print(f"stopped {len(stopped)}: {', '.join(stopped) or 'nothing ran'}")
        else:
            assert name is not None
            runtime.shutdown(name, grace=grace)
            console.print(f"stopped {name}")
            note("its history stays: orchestration history " + name)


def register(app: typer.Typer) -> None:
    app.command(
        epilog=examples(
            'orchestration spawn writer --provider anthropic --system "You write short essays."',
            "orchestration spawn echo --provider scripted",
            "orchestration spawn coder --provider claude-code --cwd . --permission-mode plan",
            'orchestration spawn bot --command "python my_agent.py"',
        )
    )(spawn)
    app.command("list", epilog=examples("orchestration list", "orchestration list --json"))(
        list_agents
    )
    app.command(
        epilog=examples(
            'orchestration send writer "Draft an intro on actors"',
            "git diff | orchestration send reviewer -",
        )
    )(send)
    app.command(
        epilog=examples(
            "orchestration history writer --limit 20", "orchestration history writer --json"
        )
    )(history)
    app.command(
        epilog=examples("orchestration shutdown writer", "orchestration shutdown --all --grace 10")
    )(shutdown)
