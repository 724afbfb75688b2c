"""OTP's restart strategies as data: which children stop, which are dropped, which start."""

from __future__ import annotations

import pytest

from orchestration.messages import Restart, Strategy
from orchestration.supervision.strategy import RestartPlan, restart_plan

CHILDREN = ["a", "b", "c"]
PERMANENT: dict[str, Restart] = {"a": "permanent", "b": "permanent", "c": "permanent"}
ALL_RUNNING = {"a", "b", "c"}


@pytest.mark.parametrize(
    ("strategy", "failed", "stop", "start"),
    [
        ("one_for_one", "a", (), ("a",)),
        ("one_for_one", "b", (), ("b",)),
        ("one_for_one", "c", (), ("c",)),
        ("one_for_all", "a", ("c", "b"), ("a", "b", "c")),
        ("one_for_all", "b", ("c", "a"), ("a", "b", "c")),
        ("one_for_all", "c", ("b", "a"), ("a", "b", "c")),
        ("rest_for_one", "a", ("c", "b"), ("a", "b", "c")),
        ("rest_for_one", "b", ("c",), ("b", "c")),
        ("rest_for_one", "c", (), ("c",)),
    ],
)
def test_each_strategy_stops_in_reverse_and_starts_in_order(
    strategy: Strategy, failed: str, stop: tuple[str, ...], start: tuple[str, ...]
) -> None:
    running = ALL_RUNNING - {failed}

    plan = restart_plan(strategy, CHILDREN, failed, PERMANENT, running)

    assert plan == RestartPlan(stop=stop, drop=(), start=start)


def test_a_temporary_sibling_is_stopped_and_dropped_not_restarted() -> None:
    restart: dict[str, Restart] = {**PERMANENT, "c": "temporary"}

    plan = restart_plan("one_for_all", CHILDREN, "a", restart, {"b", "c"})

    assert plan == RestartPlan(stop=("c", "b"), drop=("c",), start=("a", "b"))


def test_a_group_restart_starts_a_transient_sibling_that_had_ended_normally() -> None:
    """As OTP's start_children: every non-temporary child of the group starts again."""
    restart: dict[str, Restart] = {**PERMANENT, "c": "transient"}

    plan = restart_plan("rest_for_one", CHILDREN, "b", restart, {"a"})

    assert plan == RestartPlan(stop=(), drop=(), start=("b", "c"))
