"""Restart latency: from a kill -9 of an agent to its replacement being ready.

- raw: a parent actor creates a child (the bench's echo actor) and waits for its first reply;
  asked from outside, so the figure includes the ask and the answer hops;
- ours: ``kill -9`` of an agent process until the root's ``agent_restarted`` event reaches a
  subscriber: the exit notice, a new agent process, its start (provider, journal view), its
  ready report, the journaled event and the hop to the subscriber;
- a burst: ten agents killed at once until all ten are back (restarts per second);
- a one_for_all group of ten under a supervisor of their own: ``kill -9`` of one member until
  all ten ``agent_restarted`` events arrived (the nine others stopped in reverse start order,
  then all ten started one after another, each once the one before is ready), at the median
  over a few rounds, with the throughput in agent restarts per second.

Same daemon, same run; raw and ours alternated. Target: ours <= 1.5x raw at the median. The
daemon's restart intensity is raised so that the root never gives up on the agents killed over
and over; the group's own supervisor allows 1000 restarts a second.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from thespian.actors import Actor, ActorExitRequest, ActorSystem, ChildActorExited

from bench._common import Stats, alternate, ms, private_daemon, ratio_row
from orchestration.messages import AgentNode, AgentSpec, SupervisorNode

TARGET_RATIO = 1.5
ROUNDS = 6
PER_ROUND = 10
BURST = 10
GROUP = 10
GROUP_ROUNDS = 5
TIMEOUT = 20.0


class SpawnerActor(Actor):
    """On "spawn": create a child echo actor, ping it, answer the asker once it replies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asker: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if message == "spawn":
            self.asker = sender
            child = self.createActor("bench.hop.EchoActor")
            self.send(child, "first")
        elif message == "first":
            self.send(self.asker, "ready")
            self.send(sender, ActorExitRequest())
        elif isinstance(message, ChildActorExited | ActorExitRequest):
            return


def _raw(endpoint: Any, spawner: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        if endpoint.ask(spawner, "spawn", TIMEOUT) != "ready":
            raise RuntimeError("the spawner did not answer")
        samples.append(time.perf_counter() - start)
    return samples


def _ours(runtime: Any, name: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        pid = runtime.resolve(name).agent.pid
        with runtime.watch(timeout=TIMEOUT) as events:
            start = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            next(e for e in events if e.event == "agent_restarted" and e.data["agent"] == name)
            samples.append(time.perf_counter() - start)
    return samples


def _kill_until_back(runtime: Any, victims: list[str], names: list[str]) -> float:
    """Seconds from a kill -9 of every agent in ``victims`` until each of ``names`` has sent
    its ``agent_restarted`` event."""
    pids = [runtime.resolve(name).agent.pid for name in victims]
    with runtime.watch(timeout=TIMEOUT) as events:
        start = time.perf_counter()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        back: set[str] = set()
        for event in events:
            if event.event == "agent_restarted" and event.data["agent"] in names:
                back.add(event.data["agent"])
                if len(back) == len(names):
                    return time.perf_counter() - start
    raise RuntimeError(f"only {len(back)} of {len(names)} agents came back")


def _group_tree(names: list[str]) -> SupervisorNode:
    """A one_for_all supervisor over scripted agents ``names``, allowing 1000 restarts a
    second."""
    return SupervisorNode(
        name="group",
        strategy="one_for_all",
        intensity=1000,
        period=1,
        children=tuple(
            AgentNode(spec=AgentSpec(name=name, provider="scripted", model="echo"))
            for name in names
        ),
    )


def main() -> None:
    print("restart: kill -9 to replacement ready, next to a raw create-and-first-reply")
    extra = {"ORCH_RESTART_INTENSITY": "100000", "ORCH_HEALTH_INTERVAL": "1"}
    with private_daemon(extra) as runtime:
        runtime.spawn("phoenix", provider="scripted")  # type: ignore[attr-defined]
        burst = [f"b{index}" for index in range(BURST)]
        for name in burst:
            runtime.spawn(name, provider="scripted")  # type: ignore[attr-defined]
        group = [f"g{index}" for index in range(GROUP)]
        runtime.up(_group_tree(group))  # type: ignore[attr-defined]
        port = runtime.settings.admin_port  # type: ignore[attr-defined]
        asys = ActorSystem("multiprocTCPBase", {"Admin Port": port}, transientUnique=True)
        try:
            spawner = asys.createActor("bench.restart.SpawnerActor")
            with asys.private() as endpoint:
                _raw(endpoint, spawner, 3)
                _ours(runtime, "phoenix", 3)
                samples = alternate(
                    ROUNDS,
                    {
                        "raw": lambda: _raw(endpoint, spawner, PER_ROUND),
                        "ours": lambda: _ours(runtime, "phoenix", PER_ROUND),
                    },
                )
            bursts = [_kill_until_back(runtime, burst, burst) for _ in range(3)]
            groups = Stats.of(
                [
                    _kill_until_back(runtime, [group[index % GROUP]], group)
                    for index in range(GROUP_ROUNDS)
                ]
            )
            asys.tell(spawner, ActorExitRequest())
        finally:
            asys._systemBase.transport.close()  # detach only; shutdown() would stop the daemon
    raw, ours = Stats.of(samples["raw"]), Stats.of(samples["ours"])
    print(raw.row("raw: create a child, first reply"))
    print(ours.row("kill -9 to agent_restarted"))
    print(ratio_row("ours / raw", ours, raw, TARGET_RATIO))
    best = min(bursts)
    print(
        f"  burst: {BURST} agents killed at once, all back in {best * 1e3:.0f} ms "
        f"(best of 3; {BURST / best:.0f} restarts/s)"
    )
    print(groups.row(f"one_for_all group of {GROUP}: all back", tails=False))
    print(
        f"  group: {GROUP} agent restarts in {ms(groups.median).strip()} at the median "
        f"({GROUP / groups.median:.0f} restarts/s; {groups.median / ours.median:.1f}x a single "
        "restart)"
    )


if __name__ == "__main__":
    main()
