"""The rules a room applies to turns: who answers, what a pass is, how messages are addressed."""

from __future__ import annotations

import pytest

from orchestration.topologies.turn_policy import is_pass, mentions, responders

AGENTS = ["a", "b", "c"]


@pytest.mark.parametrize(
    "reply", ["PASS", "pass", " [PASS] ", "Pass.", "PASS: nothing to add", "pass - agreed"]
)
def test_a_pass_is_pass_alone_or_with_a_reason(reply: str) -> None:
    assert is_pass(reply)


@pytest.mark.parametrize(
    "reply", ["Passing the ball to you", "I pass", "PASSWORD", "you shall not pass", ""]
)
def test_anything_else_is_an_answer(reply: str) -> None:
    assert not is_pass(reply)


def test_leading_mentions_address_members_and_groups_once_each() -> None:
    names = ["critic", "user", "front"]
    assert mentions("@critic @user: look", names) == ("critic", "user")
    assert mentions("@critic,@front please", names) == ("critic", "front")
    assert mentions("@critic @critic hi", names) == ("critic",)


def test_mentions_count_only_at_the_start_and_only_for_known_names() -> None:
    names = ["critic"]
    assert mentions("hello @critic", names) == ()
    assert mentions("@stranger hi", names) == ()
    assert mentions("@critic", names) == ("critic",)


def test_always_and_self_select_give_every_agent_that_heard_it_a_turn() -> None:
    assert responders("always", ["a", "c"], AGENTS, "a") == ["a", "c"]
    assert responders("self_select", ["b"], AGENTS, None) == ["b"]


def test_round_robin_gives_the_floor_to_the_next_agent_in_member_order() -> None:
    assert responders("round_robin", AGENTS, AGENTS, None) == ["a"]
    assert responders("round_robin", AGENTS, AGENTS, "a") == ["b"]
    assert responders("round_robin", AGENTS, AGENTS, "c") == ["a"], "it wraps around"
    assert responders("round_robin", ["a", "c"], AGENTS, "a") == ["c"], "b did not hear it"
    assert responders("round_robin", [], AGENTS, "a") == []
