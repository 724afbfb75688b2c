"""OTP's supervisor rules as pure functions: what becomes of a child that went down, what a
restart strategy restarts, how a child is stopped and in which order a supervisor shuts down.

`after_exit` is OTP's ``do_restart``: ``temporary`` children are never restarted, ``transient``
ones only after an abnormal exit, ``permanent`` ones always. `restart_plan` is ``restart/3``:
given the children in start order, the one that failed and which are running, `restart_plan`
says which children to stop (in reverse start order), which to drop (``temporary`` children
caught in a group restart are never started again) and which to start (in start order). As in
OTP's ``terminate_children`` and ``start_children``, a group restart starts every non-temporary
child of the group, including one that had ended normally.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Literal

from orchestration.messages import Restart, Strategy

__all__ = [
    "AfterExit",
    "RestartPlan",
    "StopPlan",
    "after_exit",
    "restart_plan",
    "shutdown_order",
    "stop_plan",
]

AfterExit = Literal["restart", "remove", "keep"]
"""What becomes of a child that went down unasked: restarted (with its strategy's group),
removed from the tree (``temporary``), or kept in the tree, down (``transient``, ended
normally)."""


def after_exit(restart: Restart, abnormal: bool) -> AfterExit:
    """OTP's ``do_restart``: the fate of a child with restart type ``restart`` that went down."""
    if restart == "temporary":
        return "remove"
    if restart == "transient" and not abnormal:
        return "keep"
    return "restart"


@dataclass(frozen=True)
class RestartPlan:
    """The children to stop, drop and start, each list in the order to act on it."""

    stop: tuple[str, ...]
    drop: tuple[str, ...]
    start: tuple[str, ...]


def restart_plan(
    strategy: Strategy,
    children: Sequence[str],
    failed: str,
    restart: Mapping[str, Restart],
    running: Set[str],
) -> RestartPlan:
    """The plan for restarting ``failed`` (which is not ``temporary``) under ``strategy``."""
    if strategy == "one_for_one":
        return RestartPlan(stop=(), drop=(), start=(failed,))
    group = (
        list(children) if strategy == "one_for_all" else list(children[children.index(failed) :])
    )
    others = [name for name in group if name != failed]
    drop = tuple(name for name in others if restart[name] == "temporary")
    return RestartPlan(
        stop=tuple(name for name in reversed(others) if name in running),
        drop=drop,
        start=tuple(name for name in group if name not in drop),
    )


def shutdown_order(children: Sequence[str]) -> tuple[str, ...]:
    """The order a supervisor stops its children in when it shuts down: reverse start order."""
    return tuple(reversed(children))


@dataclass(frozen=True)
class StopPlan:
    """How to stop one child: kill it at once, or ask it to stop within ``grace`` seconds
    (infinite for ``infinity``) and kill it once ``kill_after`` seconds have passed (``None``:
    wait for as long as it takes)."""

    kill_now: bool
    grace: float = 0.0
    kill_after: float | None = None


def stop_plan(
    shutdown: float | Literal["brutal_kill", "infinity"], grace: float | None, margin: float
) -> StopPlan:
    """OTP's ``shutdown`` of a child spec: ``grace`` (from the command, if any) overrides the
    child's own ``shutdown``; a stop that outlasts it by ``margin`` seconds ends in a kill."""
    wait = shutdown if grace is None else grace
    if wait == "brutal_kill":
        return StopPlan(kill_now=True)
    if wait == "infinity":
        return StopPlan(kill_now=False, grace=math.inf)
    return StopPlan(kill_now=False, grace=float(wait), kill_after=float(wait) + margin)
