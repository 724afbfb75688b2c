"""Health checks on a heartbeat: defence in depth for supervisors.

Thespian tells a parent when a child exits, but an upstream report (kquick/Thespian#85) says
the notice is sometimes missing, and a process can hang without exiting. So on every tick a
supervisor asks `HealthMonitor.check` about each running child: a child whose process is gone
is treated as exited; one that has left `MISSED_PINGS_LIMIT` pings in a row unanswered is
killed (and so restarted); otherwise the supervisor pings it again. Agents answer pings even
while a turn streams, so a missed ping means the process itself is stuck.
"""

from __future__ import annotations

from enum import Enum

from orchestration.processes.pids import pid_alive

__all__ = ["MISSED_PINGS_LIMIT", "Action", "HealthMonitor"]

MISSED_PINGS_LIMIT = 2


class Action(Enum):
    PING = "ping"
    EXITED = "exited"
    KILL = "kill"


class HealthMonitor:
    """Counts unanswered pings per child."""

    def __init__(self, interval: float, limit: int = MISSED_PINGS_LIMIT) -> None:
        self.interval = interval
        self.limit = limit
        self._missed: dict[str, int] = {}

    def check(self, name: str, pid: int) -> tuple[Action, str]:
        """What to do about a running child on this tick, and why."""
        if not pid_alive(pid):
            self._missed.pop(name, None)
            return Action.EXITED, "its process is gone and no exit notice came"
        missed = self._missed.get(name, 0)
        if missed >= self.limit:
            self._missed.pop(name)
            waited = missed * self.interval
            return Action.KILL, f"no answer to {missed} health pings in {waited:g} s"
        self._missed[name] = missed + 1
        return Action.PING, ""

    def answered(self, name: str) -> None:
        """The child answered a ping (or any Pong): it is healthy."""
        self._missed.pop(name, None)
