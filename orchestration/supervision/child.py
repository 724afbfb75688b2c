"""What a supervisor knows of one child: its node, where it runs and how it is doing, and the
registry row (`AgentInfo` or `SupervisorInfo`) that reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard, get_args

from orchestration.messages import (
    AgentInfo,
    AgentNode,
    AgentState,
    ChildNode,
    ErrorKind,
    Pong,
    SupervisorInfo,
    SupervisorNode,
    SupervisorState,
)

__all__ = ["Child", "ChildState"]

ChildState = AgentState | SupervisorState
"""A child's state: an agent's (``idle``, ``processing``) or a supervisor's (``running``)."""


@dataclass
class Child:
    """One child of a supervisor (an agent or a nested supervisor), in its start order.

    ``incarnation`` counts starts, so an exit or a timer meant for an earlier process is never
    applied to the one that replaced it.
    """

    node: ChildNode
    routers: dict[str, Any]
    address: Any = None
    pid: int | None = None
    process_pid: int | None = None
    state: ChildState = "starting"
    incarnation: int = 0
    restarts: int = 0
    reason: str = ""
    """Why it went down this time: a crash report, an escalation, a stuck turn."""
    kind: ErrorKind = "internal"
    ended_normally: bool = False
    restart_reason: str = ""
    """Why the start under way is a restart (empty: a first start)."""
    last_error: str = ""
    last_pong: Pong | None = None
    remove_when_stopped: bool = False
    waiting_start: list[Any] = field(default_factory=list)
    waiting_stop: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def running(self) -> bool:
        return self.address is not None

    def went_down(self) -> None:
        """Forget the process, keeping why it went down in ``last_error``."""
        self.address, self.pid, self.process_pid, self.last_pong = None, None, None, None
        self.last_error = self.reason or self.last_error

    def info(self, supervisor: str) -> AgentInfo | SupervisorInfo:
        """The registry row for this child."""
        node = self.node
        if isinstance(node, AgentNode):
            pong = self.last_pong
            live = pong is not None and self.state in ("idle", "processing")
            state = pong.state if live and pong else self.state
            assert _is_agent_state(state), f"agent {node.name} in a supervisor's state {state}"
            return AgentInfo(
                spec=node.spec,
                state=state,
                pid=self.pid,
                turns=pong.turns if pong else 0,
                last_activity=pong.last_activity if pong else None,
                restarts=self.restarts,
                process_pid=self.process_pid,
                supervisor=supervisor,
                restart=node.restart,
                last_error=self.last_error,
            )
        assert isinstance(node, SupervisorNode)
        assert _is_supervisor_state(self.state), f"supervisor {node.name} in state {self.state}"
        return SupervisorInfo(
            name=node.name,
            parent=supervisor,
            strategy=node.strategy,
            intensity=node.intensity,
            period=node.period,
            restart=node.restart,
            state=self.state,
            pid=self.pid,
            restarts=self.restarts,
            last_error=self.last_error,
        )


def _is_agent_state(state: ChildState) -> TypeGuard[AgentState]:
    return state in get_args(AgentState)


def _is_supervisor_state(state: ChildState) -> TypeGuard[SupervisorState]:
    return state in get_args(SupervisorState)
