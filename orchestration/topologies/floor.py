"""The floor of a room: who waits to speak, who speaks, what each agent has heard and how many
turns are left. Pure bookkeeping (no actors, no I/O, the clock passed in), so the room's router
only decides when to ask it and what to send.

- An agent takes at most one turn at a time. The messages it should answer meanwhile wait; when
  it gets the floor it answers the latest, and the earlier ones are in what it heard.
- ``cooldown`` seconds pass between the end of an agent's turn and the start of its next.
- No turn starts once the running and the taken turns reach ``turn_limit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orchestration.messages import Envelope, RespondPolicy, new_id
from orchestration.topologies.turn_policy import responders

__all__ = ["Floor", "Grant", "Running"]


@dataclass
class Running:
    """A turn an agent is taking now, and the message it answers."""

    turn_id: str
    trigger: Envelope


@dataclass
class Grant:
    """A turn that starts now: its id, the message to answer, what the agent heard before it
    (None: its whole view must be sent afresh)."""

    agent: str
    turn_id: str
    trigger: Envelope
    heard: list[Envelope] | None


@dataclass
class Floor:
    """The turns of one room's agents (``agents`` in member order)."""

    agents: Sequence[str]
    turn_limit: int
    cooldown: float = 0.0
    turns: int = 0
    last_speaker: str | None = None
    running: dict[str, Running] = field(default_factory=dict)
    waiting: dict[str, list[Envelope]] = field(default_factory=dict)
    """The messages each agent waits to answer, agents in the order they began waiting."""
    heard: dict[str, list[Envelope]] = field(default_factory=dict)
    """What each agent heard since its last turn (not yet sent to it)."""
    fresh: set[str] = field(default_factory=set)
    """Agents whose next turn needs their whole view (restarted, or their reply was edited)."""
    last_end: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._agent_set = frozenset(self.agents)  # a room may have hundreds: look up in O(1)

    def hear(self, message: Envelope) -> None:
        """``message`` was delivered: each agent among its recipients has heard it."""
        for name in message.delivered_to:
            if name in self._agent_set:
                self.heard.setdefault(name, []).append(message)

    def grant(self, policy: RespondPolicy, message: Envelope) -> None:
        """Queue the turns ``policy`` gives on ``message``."""
        delivered = set(message.delivered_to)
        heard = [a for a in self.agents if a in delivered and a != message.sender]
        for agent in responders(policy, heard, self.agents, self.last_speaker):
            self.waiting.setdefault(agent, []).append(message)
            if policy == "round_robin":
                self.last_speaker = agent

    def budget_left(self) -> int:
        return self.turn_limit - self.turns - len(self.running)

    def startable(self, up: Callable[[str], bool], now: float) -> tuple[list[str], float | None]:
        """The waiting agents that may start now (``up`` says whether an agent is reachable),
        within the budget; and the seconds until the soonest cooled-down one may (or None)."""
        ready: list[str] = []
        soonest: float | None = None
        budget = self.budget_left()
        for agent in self.waiting:
            if len(ready) >= budget:
                break
            if agent in self.running or not up(agent):
                continue
            wait = self.last_end.get(agent, float("-inf")) + self.cooldown - now
            if wait > 0:
                soonest = wait if soonest is None else min(soonest, wait)
            else:
                ready.append(agent)
        return ready, soonest

    def start(self, agent: str) -> Grant:
        """Give ``agent`` the floor on the latest message it waits on."""
        trigger = self.waiting.pop(agent)[-1]
        heard = self.heard.pop(agent, [])
        index = next((i for i, m in enumerate(heard) if m.id == trigger.id), len(heard))
        before, self.heard[agent] = heard[:index], heard[index + 1 :]
        fresh = agent in self.fresh
        self.fresh.discard(agent)
        turn_id = new_id()
        self.running[agent] = Running(turn_id, trigger)
        return Grant(agent, turn_id, trigger, None if fresh else before)

    def is_running(self, agent: str, turn_id: str) -> bool:
        running = self.running.get(agent)
        return running is not None and running.turn_id == turn_id

    def end_turn(self, agent: str, now: float, *, counts: bool = True) -> Running:
        """``agent``'s running turn is over (a pass does not count against the budget)."""
        running = self.running.pop(agent)
        self.last_end[agent] = now
        if counts:
            self.turns += 1
        return running

    def queued(self) -> int:
        return sum(len(messages) for messages in self.waiting.values())
