"""The chaos run that `tests/chaos` (bounded) and ``python -m bench soak`` (long) share.

A system of 20 agents on the scripted provider: 14 in direct conversations, a one_for_all tree
``crew`` of four, and two rooms. Client threads send direct messages, some of which ask the
provider to fail (rate limit, overload, a hang past the turn_timeout, a crash); rooms are
spoken to now and then. Meanwhile a fault thread kills (``kill -9``) a random process of a
random kind, or stops one (``SIGSTOP``) and lets it go again, and measures the time until the
next call that needs that process succeeds.

Then the run settles and its invariants are checked from the journal and the clients' records:
every message a caller saw accepted is journaled exactly once, every journaled message is
answered (a reply or a ``turn_failed`` record), and replies come in the order of the messages.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestration.actors.turn_core import unanswered
from orchestration.daemon.record import daemon_processes
from orchestration.journal import Journal
from orchestration.messages import (
    AgentNode,
    AgentSpec,
    SupervisorNode,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from orchestration.runtime import Runtime

DIRECT = [f"dm{n}" for n in range(14)]
CREW = [f"crew{n}" for n in range(4)]
ROOM_AGENTS = {"north": ["room-a", "room-b"], "south": ["room-a", "crew0"]}
FAULTS = [
    "",
    "",
    "",
    "",
    " [[scripted: fail=rate_limit]]",
    " [[scripted: fail=overloaded]]",
    " [[scripted: fail=connection; after=1]]",
    " [[scripted: crash]]",
    " [[scripted: hang]]",
]
"""What a message may ask of the provider (mostly nothing)."""
TURN_TIMEOUT = 2.0
CALL_TIMEOUT = 8.0
HEAL_DEADLINE = 30.0
ENV = {
    "ORCH_RESTART_INTENSITY": "1000",
    "ORCH_RESTART_PERIOD": "1",
    "ORCH_HEALTH_INTERVAL": "0.5",
    "ORCH_STREAM_CHECK_INTERVAL": "0.5",
    "ORCH_PROVIDER_TIMEOUT": "30",
}
"""The daemon's settings for a chaos run: restarts never given up, quick health checks."""


def kinds() -> list[str]:
    """The process titles a fault may hit (the admin is handled on its own)."""
    return [
        "root",
        "rooms",
        "gateway",
        "logger",
        "standby",
        "supervisor crew",
        *(f"agent {name}" for name in [*DIRECT[:4], "crew1", "room-a"]),
        *(f"router dm:{name}" for name in DIRECT[:4]),
        "router dm:crew2",
        "room room:north",
        "room room:south",
    ]


@dataclass
class Sent:
    """What a client saw of one message."""

    agent: str
    message_id: str
    content: str
    accepted: bool = False
    outcome: str = "error"


@dataclass
class Report:
    sent: int = 0
    accepted: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    stops: Counter[str] = field(default_factory=Counter)
    healed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def build(runtime: Runtime) -> None:
    """The system under test."""
    for name in [*DIRECT, "room-a", "room-b"]:
        runtime.spawn(name, provider="scripted", model="echo", turn_timeout=TURN_TIMEOUT)
    crew = SupervisorNode(
        name="crew",
        strategy="one_for_all",
        intensity=1000,
        period=1,
        children=tuple(
            AgentNode(spec=AgentSpec(name=n, provider="scripted", model="echo")) for n in CREW
        ),
    )
    runtime.up(crew)
    for room, agents in ROOM_AGENTS.items():
        runtime.create_room(room, agents=agents, max_turns=100_000, respond="round_robin")


def processes(runtime: Runtime) -> dict[str, list[int]]:
    """The daemon's processes by title."""
    return daemon_processes(runtime.settings)


def send_one(runtime: Runtime, agent: str, content: str, record: list[Sent]) -> None:
    """One direct message, as a client sees it."""
    stream = runtime.send(agent, content, timeout=CALL_TIMEOUT)
    sent = Sent(agent, stream.message.id, content)
    record.append(sent)
    for item in stream:
        if isinstance(item, TurnStarted):
            sent.accepted = True
        elif isinstance(item, TurnFinished):
            sent.accepted, sent.outcome = True, "finished"
        elif isinstance(item, TurnFailed):
            sent.accepted, sent.outcome = True, f"failed:{item.kind}"


def probe(runtime: Runtime, kind: str, killed: int) -> Callable[[], object]:
    """A call that needs a process of ``kind`` (the one killed was ``killed``): it raises
    until that process is replaced and answers."""
    if kind.startswith("router dm:"):  # a subscription is acknowledged by the router itself
        name = kind.removeprefix("router dm:")
        return lambda: runtime.watch(name, timeout=0).close()
    if kind.startswith("agent "):
        return lambda: _up_again(runtime, kind.removeprefix("agent "), killed)
    if kind == "supervisor crew":  # its agents' rows lag behind it: ask one of them
        return lambda: runtime.send("crew1", "probe after its supervisor").result()
    if kind.startswith("room ") or kind == "rooms":
        return lambda: runtime.rooms() and runtime.room_history("north", limit=1)
    if kind == "gateway":
        return runtime.gateway
    return runtime.list


def _up_again(runtime: Runtime, name: str, killed: int) -> None:
    """Agent ``name`` answers its supervisor's pings from a process other than ``killed``
    (a turn sent now might wait behind queued ones: that is queueing, not healing)."""
    agent = runtime.resolve(name).agent
    if agent.pid in (None, killed) or agent.state not in ("idle", "processing"):
        raise LookupError(f"{name} is not back yet")


class Chaos:
    """Load and faults against one daemon."""

    def __init__(self, runtime: Runtime, *, seed: int = 7) -> None:
        self.runtime = runtime
        self.random = random.Random(seed)
        self.tag = f"s{seed}-"
        """Makes this run's messages distinct from an earlier run's on the same journal."""
        self.report = Report()
        self.records: list[list[Sent]] = []
        self.stop = threading.Event()

    def run(
        self, messages: int, clients: int, fault_every: float, *, seconds: float | None = None
    ) -> Report:
        """Send ``messages`` direct messages from ``clients`` threads (or, with ``seconds``,
        as many as fit in that time) while faults strike every ``fault_every`` seconds; then
        settle and check."""
        per_client = messages // clients
        until = None if seconds is None else time.monotonic() + seconds
        threads = [
            threading.Thread(target=self._client, args=(n, per_client, until), daemon=True)
            for n in range(clients)
        ]
        faults = threading.Thread(target=self._faults, args=(fault_every,), daemon=True)
        for thread in [*threads, faults]:
            thread.start()
        for thread in threads:
            thread.join()
        self.stop.set()
        faults.join()
        self.check()
        return self.report

    def _client(self, n: int, count: int, until: float | None) -> None:
        record: list[Sent] = []
        self.records.append(record)
        names = [name for i, name in enumerate(DIRECT) if i % 4 == n % 4] or DIRECT
        for i in itertools.count():
            if (i >= count) if until is None else (time.monotonic() >= until):
                return
            agent = names[i % len(names)]
            fault = FAULTS[(n * 7 + i) % len(FAULTS)] if i % 5 == 0 else ""
            try:
                send_one(self.runtime, agent, f"{self.tag}c{n}-{i}{fault}", record)
            except Exception as exc:  # a clear error is an allowed outcome; counted
                self.report.errors[type(exc).__name__] += 1
            if i % 25 == 0:  # the rooms hear from the clients too
                room = "north" if i % 50 == 0 else "south"
                with contextlib.suppress(Exception):
                    self.runtime.say(room, f"{self.tag}c{n}-{i} to the room")

    def _faults(self, every: float) -> None:
        titles = kinds()
        while not self.stop.wait(every):
            kind = self.random.choice(titles)
            pids = processes(self.runtime).get(kind, [])
            if not pids:
                continue
            pid = self.random.choice(pids)
            if self.random.random() < 0.2 and kind != "logger":
                self.report.stops[kind] += 1
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                self.stop.wait(0.3)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
                continue
            self.report.kills[kind] += 1
            killed = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.report.healed[kind].append(self._healed(kind, killed, pid))

    def _healed(self, kind: str, killed: float, pid: int) -> float:
        """Seconds from the kill until a call that needs ``kind`` succeeds."""
        call = probe(self.runtime, kind, pid)
        while time.monotonic() - killed < HEAL_DEADLINE:
            try:
                call()
                return time.monotonic() - killed
            except Exception:
                continue
        return float("inf")

    def check(self) -> None:
        """The invariants, from the journal and the clients' records."""
        report = self.report
        sent = [s for record in self.records for s in record]
        report.sent = len(sent)
        report.accepted = sum(1 for s in sent if s.accepted)
        journal = Journal(self.runtime.settings.journal_path)
        try:
            self._settle(journal)
            for agent in [*DIRECT]:
                rows = [e for _, e in journal.history(f"dm:{agent}")]
                said = Counter(e.content for e in rows if e.kind == "chat" and e.sender != agent)
                report.duplicated += [c for c, n in said.items() if n > 1]
                ids = {e.id for e in rows}
                report.lost += [
                    s.content
                    for s in sent
                    if s.agent == agent and s.accepted and s.message_id not in ids
                ]
                asked = [e.id for e in rows if e.kind == "chat" and e.sender != agent]
                report.unanswered += [m.id for m in unanswered(rows, agent)]
                answers = [e.in_reply_to for e in rows if e.in_reply_to in set(asked)]
                firsts = list(dict.fromkeys(answers))
                if firsts != [i for i in asked if i in set(firsts)]:
                    report.out_of_order.append(agent)
        finally:
            journal.close()

    def _settle(self, journal: Journal) -> None:
        """Wait (with a deadline) until every journaled direct message is answered."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = sum(
                len(unanswered((e for _, e in journal.history(f"dm:{agent}")), agent))
                for agent in DIRECT
            )
            if not pending:
                return
            self.stop.wait(0.2)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(report: Report) -> list[str]:
    """The report's lines."""
    lines = [
        f"messages sent {report.sent}, accepted {report.accepted}, client errors "
        f"{dict(report.errors) or 0}",
        f"lost {len(report.lost)}, duplicated {len(report.duplicated)}, unanswered "
        f"{len(report.unanswered)}, out of order {len(report.out_of_order)}",
        f"{'kind':<24}{'kills':>6}{'stops':>6}{'healed p50':>12}{'p99':>10}",
    ]
    for kind in sorted(set(report.kills) | set(report.stops)):
        healed = report.healed.get(kind, [])
        lines.append(
            f"{kind:<24}{report.kills[kind]:>6}{report.stops[kind]:>6}"
            f"{percentile(healed, 0.5) * 1000:>10.0f}ms{percentile(healed, 0.99) * 1000:>8.0f}ms"
        )
    return lines
