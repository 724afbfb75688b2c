"""OTP's supervisor rules as pure functions: a child's fate after it went down, which children
stop, are dropped and start again, how a child is stopped and the order of a shutdown."""

from __future__ import annotations

import math

import pytest

from orchestration.messages import Restart, Strategy
from orchestration.supervision.strategy import (
    AfterExit,
    RestartPlan,
    StopPlan,
    after_exit,
    restart_plan,
    shutdown_order,
    stop_plan,
)

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


@pytest.mark.parametrize(
    ("restart", "abnormal", "fate"),
    [
        ("permanent", True, "restart"),
        ("permanent", False, "restart"),
        ("transient", True, "restart"),
        ("transient", False, "keep"),
        ("temporary", True, "remove"),
        ("temporary", False, "remove"),
    ],
)
def test_after_exit_follows_the_restart_type_and_the_kind_of_exit(
    restart: Restart, abnormal: bool, fate: AfterExit
) -> None:
    assert after_exit(restart, abnormal) == fate


def test_a_shutdown_stops_children_in_reverse_start_order() -> None:
    assert shutdown_order(CHILDREN) == ("c", "b", "a")
    assert shutdown_order([]) == ()


def test_brutal_kill_kills_at_once() -> None:
    assert stop_plan("brutal_kill", None, 2.0) == StopPlan(kill_now=True)


def test_a_timed_shutdown_asks_then_kills_after_the_grace_and_a_margin() -> None:
    assert stop_plan(5.0, None, 2.0) == StopPlan(kill_now=False, grace=5.0, kill_after=7.0)


def test_infinity_waits_for_as_long_as_it_takes() -> None:
    assert stop_plan("infinity", None, 2.0) == StopPlan(kill_now=False, grace=math.inf)


def test_a_commanded_grace_overrides_the_child_shutdown() -> None:
    assert stop_plan("brutal_kill", 1.0, 2.0) == StopPlan(kill_now=False, grace=1.0, kill_after=3.0)
    assert stop_plan("infinity", 0.0, 2.0) == StopPlan(kill_now=False, grace=0.0, kill_after=2.0)
