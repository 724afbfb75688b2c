"""``room ...``: conversations of several agents and humans, one command at a time.

``room create`` makes one from agents that exist, ``room say`` speaks in it, ``room list``,
``show`` and ``history`` look at it, and ``pause``, ``resume``, ``stop``, ``topology``,
``mode``, ``approve`` and ``delete`` steer it. ``observe ROOM`` follows it live and ``join ROOM``
takes part.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestration.cli.agents import Json
from orchestration.cli.output import console, examples, fail, note, print_json, to_json
from orchestration.cli.roomview import RoomView
from orchestration.messages import (
    DEFAULT_HUMAN,
    HumanMode,
    Member,
    RespondPolicy,
    RoomAction,
    RoomInfo,
    RoomSpec,
    default_of,
)
from orchestration.runtime import Runtime

__all__ = ["acted", "answered", "member_label", "register", "room", "status"]

room = typer.Typer(help="Rooms: conversations of several agents and humans.", no_args_is_help=True)
Name = Annotated[str, typer.Argument(help="the room")]


@room.command(
    epilog=examples(
        "orchestration room create standup --agents planner,critic --max-turns 6",
        "orchestration room create review --agents lead,a,b --topology hierarchical",
    )
)
def create(
    name: Annotated[str, typer.Argument(help="the room's name")],
    agents: Annotated[str, typer.Option(help="its agents, which must exist: planner,critic")],
    humans: Annotated[str, typer.Option(help='its humans (none: "")')] = DEFAULT_HUMAN,
    topology: Annotated[
        str,
        typer.Option(help="who hears what: broadcast, filtered, hierarchical or custom:pkg.mod:fn"),
    ] = default_of(RoomSpec, "topology"),
    respond: Annotated[RespondPolicy, typer.Option(help="which agents answer a message")] = (
        default_of(RoomSpec, "respond")
    ),
    mode: Annotated[HumanMode, typer.Option(help="what the humans control")] = default_of(
        RoomSpec, "mode"
    ),
    max_turns: Annotated[int, typer.Option(help="agent turns before the conversation ends")] = (
        default_of(RoomSpec, "max_turns")
    ),
    cooldown: Annotated[float, typer.Option(help="seconds between two turns of one agent")] = (
        default_of(RoomSpec, "cooldown")
    ),
    stop_phrase: Annotated[
        str | None, typer.Option(help="said by any member, it ends the conversation")
    ] = default_of(RoomSpec, "stop_phrase"),
    idle_timeout: Annotated[
        float | None, typer.Option(help="seconds without a message that end the conversation")
    ] = default_of(RoomSpec, "idle_timeout"),
    orchestrator: Annotated[
        str | None, typer.Option(help="the member who leads (hierarchical topology)")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(help="MEMBER=g1,g2: the member belongs to these groups (repeatable)"),
    ] = None,
    json: Json = False,
) -> None:
    """Create a room where agents and humans talk.

    Choose its topology, respond policy, human mode and limits."""
    agent_names, human_names = _names(agents), _names(humans)
    members = [*agent_names, *human_names]
    groups = _groups(group or [], members)
    if orchestrator is not None and orchestrator not in members:
        fail(
            f"--orchestrator {orchestrator} is not a member of the room",
            f"name one of: {', '.join(members)}",
        )
    with Runtime.connect() as runtime:
        info = runtime.create_room(
            name,
            agents=agent_names,
            humans=human_names,
            topology=topology,
            respond=respond,
            mode=mode,
            max_turns=max_turns,
            cooldown=cooldown,
            stop_phrase=stop_phrase,
            idle_timeout=idle_timeout,
            roles={orchestrator: "orchestrator"} if orchestrator else None,
            groups=groups,
        )
    if json:
        print_json(room_json(info))
    else:
        console.print(f"created room {name}: {describe(info)}", markup=False, soft_wrap=True)


def _names(listed: str) -> list[str]:
    """``"planner, critic"`` -> ``["planner", "critic"]``."""
    return [name.strip() for name in listed.split(",") if name.strip()]


def _groups(options: list[str], members: list[str]) -> dict[str, list[str]]:
    """``["coder=backend,ops"]`` -> ``{"coder": ["backend", "ops"]}``, for members only."""
    groups: dict[str, list[str]] = {}
    for option in options:
        member, equals, names = option.partition("=")
        member = member.strip()
        if not equals or not member or not _names(names):
            fail(f"--group {option!r} is not MEMBER=g1,g2", "e.g. --group coder=backend,ops")
        if member not in members:
            fail(f"--group {option}: {member} is not a member", f"members: {', '.join(members)}")
        groups.setdefault(member, []).extend(_names(names))
    return groups


@room.command("list", epilog=examples("orchestration room list", "orchestration room list --json"))
def list_rooms(json: Json = False) -> None:
    """List rooms: state, members, topology, respond policy, mode, turns and why one ended."""
    with Runtime.connect() as runtime:
        rooms = runtime.rooms()
    if json:
        print_json([room_json(info) for info in rooms])
        return
    if not rooms:
        console.print("no rooms yet: orchestration room create NAME --agents a,b")
        return
    table = Table("name", "state", "members", "topology", "respond", "mode", "turns", "ended")
    for info in rooms:
        spec = info.spec
        table.add_row(
            spec.name,
            info.state,
            ", ".join(member.name for member in spec.members),
            spec.topology,
            spec.respond,
            spec.mode,
            f"{info.turns}/{spec.max_turns}",
            info.ended_reason,
        )
    console.print(table)


@room.command(epilog=examples("orchestration room show standup"))
def show(name: Name, json: Json = False) -> None:
    """Show a room's members, policies and what it is doing now.

    That is its turns, busy agents and replies waiting for approval."""
    with Runtime.connect() as runtime:
        info = runtime.room(name)
    if json:
        print_json(room_json(info))
        return
    spec = info.spec
    rows = {
        "room": f"{spec.name}  {status(info)}  pid {info.pid or '-'}",
        "members": ", ".join(member_label(member) for member in spec.members),
        "policy": f"topology {spec.topology} · respond {spec.respond} · mode {spec.mode}",
        "limits": _limits(info),
        "busy": ", ".join(info.busy) or "-",
        "queued": str(info.queued),
    }
    for label, value in rows.items():
        console.print(f"[bold]{label:<8}[/] ", end="", markup=True)
        console.print(value, markup=False, soft_wrap=True)
    for pending in info.pending:
        waits = f"{pending.agent}'s reply" if pending.kind == "approval" else "human input"
        console.print(f"[bold]{'pending':<8}[/] ", end="", markup=True)
        console.print(f"{waits} (id {pending.id})", markup=False, soft_wrap=True)
        if pending.content:
            console.print(pending.content, markup=False, soft_wrap=True)


def _limits(info: RoomInfo) -> str:
    spec = info.spec
    limits = [f"turns {info.turns}/{spec.max_turns}", f"cooldown {spec.cooldown:g} s"]
    if spec.stop_phrase:
        limits.append(f"stop phrase {spec.stop_phrase!r}")
    if spec.idle_timeout:
        limits.append(f"idle timeout {spec.idle_timeout:g} s")
    return " · ".join(limits)


@room.command(
    epilog=examples(
        'orchestration room say standup "What did we ship yesterday?"',
        'orchestration room say standup "Your view?" --to critic',
    )
)
def say(
    name: Name,
    text: Annotated[str, typer.Argument(help="the message; - reads it from stdin")],
    sender: Annotated[str, typer.Option("--as", help="the member who says it")] = DEFAULT_HUMAN,
    to: Annotated[str, typer.Option(help="address it to these members: planner,critic")] = "",
) -> None:
    """Say something in a room; its agents answer by its respond policy.

    Follow their answers with `orchestration observe ROOM`."""
    if text == "-":
        text = sys.stdin.read()
    with Runtime.connect() as runtime:
        said = runtime.say(name, text, sender=sender, to=_names(to))
    heard = ", ".join(said.delivered_to) or "nobody"
    console.print(f"said in {name} (delivered to {heard})", markup=False, soft_wrap=True)


@room.command(epilog=examples("orchestration room pause standup"))
def pause(name: Name) -> None:
    """Pause a room: no new turns until it is resumed."""
    _act(name, "pause", "paused")


@room.command(epilog=examples("orchestration room resume standup"))
def resume(name: Name) -> None:
    """Resume a paused room, or an ended one (with a fresh --max-turns)."""
    _act(name, "resume", "resumed")


@room.command(epilog=examples("orchestration room stop standup"))
def stop(name: Name) -> None:
    """End a room's conversation now (resume starts it again)."""
    _act(name, "stop", "stopped")


def _act(name: str, action: RoomAction, done: str) -> None:
    with Runtime.connect(start=False) as runtime:
        info = runtime.room(name, action)
    console.print(acted(done, info), markup=False, soft_wrap=True)


@room.command(
    epilog=examples(
        "orchestration room delete standup", "orchestration room delete standup --purge --yes"
    )
)
def delete(
    name: Name,
    purge: Annotated[bool, typer.Option("--purge", help="remove its history too")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="purge without asking")] = False,
) -> None:
    """Remove a room; its history stays (see `room history`) unless --purge."""
    if purge and not yes:
        typer.confirm(f"purge room {name} and its whole history?", abort=True)
    with Runtime.connect(start=False) as runtime:
        runtime.room(name, "purge" if purge else "delete")
    if purge:
        console.print(f"purged {name} and its history", markup=False)
    else:
        console.print(f"deleted {name}", markup=False)
        note(f"its history stays: orchestration room history {name}")


@room.command(epilog=examples("orchestration room topology standup broadcast"))
def topology(
    name: Name,
    topology: Annotated[
        str, typer.Argument(help="broadcast, filtered, hierarchical or custom:pkg.mod:fn")
    ],
) -> None:
    """Switch a room's topology now; its history and agents stay."""
    with Runtime.connect(start=False) as runtime:
        info = runtime.set_topology(name, topology)
    console.print(f"{name}: topology {info.spec.topology}", markup=False)


@room.command(epilog=examples("orchestration room mode standup moderated"))
def mode(
    name: Name,
    mode: Annotated[HumanMode, typer.Argument(help="free, moderated or prompted")],
) -> None:
    """Set what the humans of a room control.

    free: nothing; moderated: the agents' replies wait for approval; prompted: the agents
    wait for a human after each round."""
    with Runtime.connect(start=False) as runtime:
        info = runtime.set_mode(name, mode)
    console.print(f"{name}: mode {info.spec.mode}", markup=False)


@room.command(
    epilog=examples(
        "orchestration room approve standup",
        'orchestration room approve standup --edit "Shorter, please."',
        "orchestration room approve standup --skip",
    )
)
def approve(
    name: Name,
    edit: Annotated[
        str | None, typer.Option(help="replace the reply with this text, then deliver it")
    ] = None,
    skip: Annotated[bool, typer.Option("--skip", help="drop the reply: never delivered")] = False,
    pending: Annotated[
        str | None, typer.Option("--id", help="the pending reply (default: the oldest)")
    ] = None,
    by: Annotated[str, typer.Option("--as", help="the human who decides")] = DEFAULT_HUMAN,
) -> None:
    """Approve the agent's reply a moderated room waits for (or --edit it, or --skip it)."""
    if edit is not None and skip:
        fail("give --edit or --skip, not both", "without either, the reply is approved as is")
    action = "skip" if skip else "edit" if edit is not None else "approve"
    with Runtime.connect(start=False) as runtime:
        info = runtime.approve(name, action, content=edit or "", pending=pending, by=by)
    console.print(answered(action, info), markup=False, soft_wrap=True)


@room.command(
    epilog=examples(
        "orchestration room history standup --limit 50", "orchestration room history standup --json"
    )
)
def history(
    name: Name,
    deliveries: Annotated[
        bool, typer.Option("--deliveries", help="show who each message was delivered to")
    ] = False,
    limit: Annotated[int, typer.Option(help="at most this many messages")] = 1000,
    json: Json = False,
) -> None:
    """Print a room's messages and events as the journal holds them (also after delete)."""
    with Runtime.connect() as runtime:
        messages = runtime.room_history(name, limit=limit)
        if not messages:
            runtime.room(name)  # raises for a room that never existed
    if json:
        print_json([to_json(message) for message in messages])
        return
    view = RoomView(stamps=True, deliveries=deliveries)
    for message in messages:
        view.show(message)


# --- how a room is described -------------------------------------------------------------------


def status(info: RoomInfo) -> str:
    """``active, 3/8 turns``, ``ended (max turns reached), 8/8 turns``..."""
    state = f"{info.state} ({info.ended_reason})" if info.ended_reason else info.state
    waiting = f", {len(info.pending)} waiting" if info.pending else ""
    return f"{state}, {info.turns}/{info.spec.max_turns} turns{waiting}"


def acted(done: str, info: RoomInfo) -> str:
    """``paused standup: paused, 3/8 turns``."""
    return f"{done} {info.spec.name}: {status(info)}"


def describe(info: RoomInfo) -> str:
    """The room in one line: members, policies, state."""
    spec = info.spec
    humans = ", ".join(spec.humans) or "none"
    return (
        f"agents {', '.join(spec.agents)}; humans {humans}; topology {spec.topology}, "
        f"respond {spec.respond}, mode {spec.mode}; {status(info)}"
    )


def member_label(member: Member) -> str:
    """``planner (agent)``, ``lead (agent, orchestrator)``, ``coder (agent; groups a, b)``."""
    kind = member.kind if member.role == "member" else f"{member.kind}, {member.role}"
    groups = f"; groups {', '.join(member.groups)}" if member.groups else ""
    return f"{member.name} ({kind}{groups})"


def answered(action: str, info: RoomInfo) -> str:
    """What an answer to a pending reply did, and how many still wait."""
    done = {"approve": "approved", "edit": "edited and delivered", "skip": "skipped"}[action]
    more = sum(1 for pending in info.pending if pending.kind == "approval")
    return f"{done} the reply in {info.spec.name}" + (f"; {more} more waiting" if more else "")


def room_json(info: RoomInfo) -> dict[str, Any]:
    """A room as JSON: its spec's fields, then its live state."""
    data = info.model_dump(mode="json")
    return {**data.pop("spec"), **data}


def register(app: typer.Typer) -> None:
    app.add_typer(room, name="room")
