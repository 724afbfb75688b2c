"""Fan-out: one message to N members and all N replies, raw Thespian against a room broadcast.

For each size N (default 10, 50 and 200), in one multiprocTCPBase daemon of our own:

- raw: a `BroadcasterActor` with N `EchoActor` children (each its own process, created ahead)
  is asked "go"; it sends one message to each echo actor, each answers it, and it answers the
  asker once all N replies are in. Timed from the ask to the answer;
- room: N agents on the scripted provider (``scripted:echo``, no delay) in one room that
  answers ``always`` in ``prompted`` mode, so only the human's message starts turns: one round
  of N replies. Timed from ``runtime.say(room, "hello")`` until every agent's reply has
  reached an `observe_room` subscriber (its `TurnFinished`, or its journaled reply
  `Envelope`, whichever comes first), subscribed before the say;
- memory: the USS (``Private_Clean + Private_Dirty`` of ``/proc/PID/smaps_rollup``) of each
  agent process and of each raw echo actor, and the USS and PSS of the whole daemon (the
  admin and every process below it) once the raw actors are gone.

Raw and room rounds alternate after one warm-up round each; the table gives the median and the
max over the rounds. The sizes run in ascending order, each spawning only the agents that
the size before did not have. Target: 200 agents fit (all spawned, all answering, the
daemon's PSS within the memory free before the run), and a broadcast to 200 agents completes
in < 1 s.

Run: ``uv run python -m bench fanout [--sizes 10,50,200] [--rounds 3] [--raw-only]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thespian.actors import Actor, ActorExitRequest, ActorSystem

from bench._common import alternate, private_daemon, verdict
from orchestration.conversation_ids import ConversationId
from orchestration.messages import Envelope, TurnFailed, TurnFinished

TARGET_AGENTS = 200
TARGET_SECONDS = 1.0
WARMUP = 1
ROUND_TIMEOUT = 60.0
SETUP_SECONDS_PER_ACTOR = 0.5
MIB = 1024 * 1024


class EchoActor(Actor):
    """Answers ``("pid",)`` with its process id and any other message with itself."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == ("pid",):
            self.send(sender, ("pid", os.getpid()))
        elif not isinstance(message, ActorExitRequest):
            self.send(sender, message)


class BroadcasterActor(Actor):
    """``("setup", n)``: create n echo children and answer ``("ready", pids)`` once each has
    answered. ``("go", token)``: send ``token`` to every child and answer ``("done", token)``
    once all of them have echoed it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echoes: list[Any] = []
        self.asker: Any = None
        self.pids: list[int] = []
        self.pending = 0

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if not isinstance(message, tuple):  # ActorExitRequest, ChildActorExited
            return
        if message[0] == "setup":
            self.asker = sender
            self.echoes = [self.createActor(EchoActor) for _ in range(message[1])]
            for echo in self.echoes:
                self.send(echo, ("pid",))
        elif message[0] == "pid":
            self.pids.append(message[1])
            if len(self.pids) == len(self.echoes):
                self.send(self.asker, ("ready", self.pids))
        elif message[0] == "go":
            self.asker, self.pending = sender, len(self.echoes)
            for echo in self.echoes:
                self.send(echo, ("echo", message[1]))
        elif message[0] == "echo":
            self.pending -= 1
            if self.pending == 0:
                self.send(self.asker, ("done", message[1]))


# --- memory ------------------------------------------------------------------------------------


def _smaps(pid: int) -> dict[str, int] | None:
    """The fields of ``/proc/PID/smaps_rollup`` in bytes; None once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def uss(pid: int) -> int:
    """Bytes only this process holds (what killing it frees); 0 once it is gone."""
    fields = _smaps(pid) or {}
    return fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)


def pss(pid: int) -> int:
    """Bytes of this process, its shared pages divided among their sharers; 0 once gone."""
    return (_smaps(pid) or {}).get("Pss", 0)


def mem_available() -> int:
    """``MemAvailable`` of ``/proc/meminfo``, in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def daemon_pids(runtime: Any) -> list[int]:
    """The admin's PID and those of every process below it."""
    from orchestration.processes.pids import descendants

    admin = runtime.status().pid
    return [admin, *(process.pid for process in descendants(admin))]


# --- raw Thespian ------------------------------------------------------------------------------


class RawFanout:
    """A broadcaster with ``size`` echo children in the daemon's actor system."""

    def __init__(self, asys: ActorSystem, endpoint: Any, size: int) -> None:
        self.endpoint = endpoint
        self.broadcaster = asys.createActor("bench.fanout.BroadcasterActor")
        self.rounds = 0
        reply = endpoint.ask(
            self.broadcaster, ("setup", size), ROUND_TIMEOUT + SETUP_SECONDS_PER_ACTOR * size
        )
        if not (isinstance(reply, tuple) and reply[0] == "ready"):
            raise RuntimeError(f"the broadcaster did not set up {size} echo actors: {reply!r}")
        self.pids: list[int] = reply[1]

    def __call__(self) -> list[float]:
        """One fan-out round: seconds from the ask to the broadcaster's answer."""
        self.rounds += 1
        start = time.perf_counter()
        reply = self.endpoint.ask(self.broadcaster, ("go", self.rounds), ROUND_TIMEOUT)
        elapsed = time.perf_counter() - start
        if reply != ("done", self.rounds):
            raise RuntimeError(f"fan-out round {self.rounds} ended with {reply!r}")
        return [elapsed]

    def close(self) -> None:
        """Stop the broadcaster (its echo children go with it) and wait until they are gone."""
        from orchestration.processes.pids import ProcessId, wait_gone

        self.endpoint.tell(self.broadcaster, ActorExitRequest())
        left = wait_gone([p for p in map(ProcessId.of, self.pids) if p], timeout=10.0)
        if left:
            raise RuntimeError(f"{len(left)} raw echo actors outlived their broadcaster")


# --- rooms -------------------------------------------------------------------------------------


def agent_names(count: int) -> list[str]:
    return [f"fan{index:03d}" for index in range(count)]


def spawn_agents(runtime: Any, names: Sequence[str]) -> float:
    """Spawn scripted echo agents ``names``, one after another; seconds taken.

    (The root starts its children one at a time, so spawning from several threads measured
    no faster: 10 agents in 0.16 s in turn, 0.18 s from 4 threads.)
    """
    start = time.perf_counter()
    for name in names:
        runtime.spawn(name, provider="scripted", model="echo")
    return time.perf_counter() - start


class RoomBroadcast:
    """Room ``fanout-SIZE`` of agents ``fan000``...: rounds of one human message, each until
    every agent answered. Spawns the agents that do not exist yet."""

    def __init__(self, runtime: Any, size: int, rounds: int, topology: str, stream: bool) -> None:
        self.runtime, self.room = runtime, f"fanout-{size}"
        self.names = agent_names(size)
        self.agents = frozenset(self.names)
        have = {info.spec.name for info in runtime.list()}
        missing = [name for name in self.names if name not in have]
        self.spawned, self.spawn_seconds = len(missing), spawn_agents(runtime, missing)
        runtime.create_room(
            self.room,
            agents=self.names,
            respond="always",
            mode="prompted",
            topology=topology,
            max_turns=size * (rounds + WARMUP) + size,
        )
        self.conversation = str(ConversationId.room(self.room))
        self.answered_turns: set[str] = set()
        self.rounds = 0
        self.stream = stream

    def __call__(self) -> list[float]:
        """One round: seconds from the say until every agent's reply has arrived."""
        self.rounds += 1
        answered: set[str] = set()
        feed = self.runtime.observe_room(self.room, timeout=ROUND_TIMEOUT, stream=self.stream)
        with feed:
            start = time.perf_counter()
            self.runtime.say(self.room, f"hello {self.rounds}")
            for message in feed:
                self._check(message)
                reply = self._reply(message)
                if reply is None or reply[1] in self.answered_turns:
                    continue  # not a reply, or one already counted in an earlier round
                self.answered_turns.add(reply[1])
                answered.add(reply[0])
                if len(answered) == len(self.agents):
                    return [time.perf_counter() - start]
        raise RuntimeError(
            f"room round {self.rounds}: {len(answered)} of {len(self.agents)} agents answered"
            f" within {ROUND_TIMEOUT:g} s"
        )

    def _check(self, message: Any) -> None:
        if isinstance(message, TurnFailed) and message.agent in self.agents:
            raise RuntimeError(f"room round {self.rounds}: {message.agent}: {message.error}")
        if isinstance(message, Envelope) and message.event == "turn_failed":
            raise RuntimeError(f"room round {self.rounds}: {message.content}")
        if isinstance(message, Envelope) and message.event == "conversation_ended":
            raise RuntimeError(f"room round {self.rounds}: the room ended: {message.content}")

    def _reply(self, message: Any) -> tuple[str, str] | None:
        """(agent, turn id) if ``message`` ends an agent's turn in this room."""
        if isinstance(message, TurnFinished):
            if message.agent in self.agents and message.message.conversation == self.conversation:
                return message.agent, message.turn_id
        elif (
            isinstance(message, Envelope)
            and message.kind == "chat"
            and message.conversation == self.conversation
            and message.sender in self.agents
        ):
            return message.sender, str(message.data.get("turn_id", message.id))
        return None

    def agent_uss(self) -> list[int]:
        """The USS of each agent's process."""
        pids = {info.spec.name: info.pid for info in self.runtime.list()}
        sizes = []
        for name in self.names:
            pid = pids.get(name)
            if pid is None:
                raise RuntimeError(f"agent {name} has no process")
            sizes.append(uss(pid))
        return sizes


# --- one size, the table -----------------------------------------------------------------------


@dataclass(frozen=True)
class RoomFigures:
    """What the room measured at one size (seconds, bytes)."""

    rounds: list[float]
    agent_uss: list[int]
    spawned: int
    spawn_seconds: float


@dataclass(frozen=True)
class Result:
    """What one size measured (seconds, bytes); ``room`` is None with --raw-only."""

    size: int
    raw: list[float]
    raw_uss: list[int]
    room: RoomFigures | None
    daemon_uss: int
    daemon_pss: int


def measure(
    runtime: Any, asys: ActorSystem, endpoint: Any, size: int, args: argparse.Namespace
) -> Result:
    """Fan-out to ``size`` members: raw and room rounds alternated, then memory."""
    rounds = args.rounds
    room = None
    if not args.raw_only:
        room = RoomBroadcast(runtime, size, rounds, args.topology, args.stream)
    raw = RawFanout(asys, endpoint, size)  # after an error, stopping the daemon stops it
    loops: dict[str, Callable[[], list[float]]] = {"raw": raw}
    if room is not None:
        loops["room"] = room
    for loop in loops.values():
        for _ in range(WARMUP):
            loop()
    samples = alternate(rounds, loops)
    raw_uss = [uss(pid) for pid in raw.pids]
    raw.close()
    figures = None
    if room is not None:
        figures = RoomFigures(samples["room"], room.agent_uss(), room.spawned, room.spawn_seconds)
    pids = daemon_pids(runtime)
    result = Result(
        size=size,
        raw=samples["raw"],
        raw_uss=raw_uss,
        room=figures,
        daemon_uss=sum(map(uss, pids)),
        daemon_pss=sum(map(pss, pids)),
    )
    if room is not None:
        runtime.room(room.room, "delete")
    return result


def _ms(samples: list[float] | None) -> str:
    if samples is None:
        return f"{'-':>15}"
    return f"{statistics.median(samples) * 1e3:7.1f} /{max(samples) * 1e3:6.1f}"


def _mib(value: float | None, width: int = 9) -> str:
    return f"{'-':>{width}}" if value is None else f"{value / MIB:{width}.1f}"


def report(results: list[Result], free_before: int) -> None:
    """The table, then the verdicts at `TARGET_AGENTS` agents if the room ran at that size."""
    print(
        f"  {'N':>4}  {'raw ms med/max':>15}  {'room ms med/max':>15}  {'ratio':>6}"
        f"  {'USS/agent':>9}  {'agents':>9}  {'raw/actor':>9}  {'daemon USS':>10}"
        f"  {'daemon PSS':>10}  (MiB)"
    )
    for result in results:
        room = result.room
        ratio, per_agent, agents = "-", None, None
        if room is not None:
            ratio = f"{statistics.median(room.rounds) / statistics.median(result.raw):.2f}x"
            per_agent, agents = statistics.fmean(room.agent_uss), sum(room.agent_uss)
        print(
            f"  {result.size:>4}  {_ms(result.raw)}  {_ms(room.rounds if room else None)}"
            f"  {ratio:>6}  {_mib(per_agent)}  {_mib(agents)}"
            f"  {_mib(statistics.fmean(result.raw_uss))}"
            f"  {_mib(result.daemon_uss, 10)}  {_mib(result.daemon_pss, 10)}"
        )
    print(
        "  ratio: room / raw at the median; USS/agent, agents: each agent process's own "
        "memory, its mean and its sum; raw/actor: a raw echo actor's; daemon: the admin and "
        "every process below it, raw actors stopped"
    )
    for result in results:
        if result.room is not None and result.room.spawned:
            room = result.room
            print(
                f"  N={result.size}: spawned {room.spawned} agents in {room.spawn_seconds:.1f} s"
                f" ({room.spawn_seconds / room.spawned * 1e3:.0f} ms each)"
            )
    target = next((r for r in results if r.size == TARGET_AGENTS and r.room is not None), None)
    if target is None or target.room is None:
        print(f"  targets: not measured (they need the room at N={TARGET_AGENTS})")
        return
    fits = target.daemon_pss < free_before
    print(
        f"  target: {TARGET_AGENTS} agents fit: all spawned and answering every round, daemon "
        f"PSS {target.daemon_pss / MIB:.0f} MiB of {free_before / MIB:.0f} MiB free before "
        f"the run  {verdict(fits)}"
    )
    worst = max(target.room.rounds)
    print(
        f"  target: a {TARGET_AGENTS}-agent broadcast completes in < {TARGET_SECONDS:g} s: "
        f"max {worst * 1e3:.0f} ms over {len(target.room.rounds)} rounds  "
        f"{verdict(worst < TARGET_SECONDS)}"
    )


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from None
    if sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be at least 1")
    return sizes


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench fanout", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--sizes", type=_sizes, default=[10, 50, TARGET_AGENTS])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--raw-only", action="store_true", help="measure only the raw Thespian fan-out"
    )
    parser.add_argument(
        "--topology",
        default="broadcast",
        help="the room's topology: broadcast (every agent hears every reply) or hierarchical"
        " (the agents as workers: only the human hears their replies)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="the observer also takes the turns' stream (TurnStarted, deltas, TurnFinished)",
    )
    args = parser.parse_args(list(argv))
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(
        "fanout: one message to N members, all N replies: raw Thespian vs a room broadcast"
        f" (multiprocTCPBase, one daemon; topology {args.topology},"
        f" observer {'with' if args.stream else 'without'} the stream)"
    )
    free_before = mem_available()
    results = []
    with private_daemon() as runtime:
        port = runtime.settings.admin_port  # type: ignore[attr-defined]
        asys = ActorSystem("multiprocTCPBase", {"Admin Port": port}, transientUnique=True)
        try:
            with asys.private() as endpoint:
                for size in args.sizes:
                    results.append(measure(runtime, asys, endpoint, size, args))
        finally:
            asys._systemBase.transport.close()  # detach only; shutdown() would stop the daemon
    report(results, free_before)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
