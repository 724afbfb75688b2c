"""What a restart strategy does, as pure data: OTP's ``restart/3``, ported.

Given the children in start order, the one that failed and which are running, `restart_plan`
says which children to stop (in reverse start order), which to drop (``temporary`` children
caught in a group restart are never started again) and which to start (in start order). As in
OTP's ``terminate_children`` and ``start_children``, a group restart starts every non-temporary
child of the group, including one that had ended normally.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from orchestration.messages import Restart, Strategy


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
