"""The floor of a room: queued, merged, cooled-down and budgeted turns, with an injected clock."""

from __future__ import annotations

from orchestration.messages import Envelope
from orchestration.topologies.floor import Floor

AGENTS = ("a", "b")


def said(sender: str, content: str, *to: str) -> Envelope:
    return Envelope(conversation="room:r", sender=sender, content=content, delivered_to=to)


def up(agent: str) -> bool:
    return True


def test_an_agent_takes_one_turn_at_a_time_and_answers_the_latest_of_what_waits() -> None:
    floor = Floor(agents=AGENTS, turn_limit=10)
    first, second, third = (said("user", text, "a") for text in ("one", "two", "three"))
    floor.hear(first)
    floor.grant("always", first)
    assert floor.startable(up, now=0.0) == (["a"], None)
    grant = floor.start("a")
    assert grant.trigger == first and grant.heard == []

    for message in (second, third):
        floor.hear(message)
        floor.grant("always", message)
    assert floor.startable(up, now=0.0) == ([], None), "a is busy"

    floor.end_turn("a", now=1.0)
    later = floor.start("a")
    assert later.trigger == third and later.heard == [second], "two waited, merged into three"
    assert floor.queued() == 0 and floor.turns == 1


def test_cooldown_holds_an_agent_until_it_has_passed() -> None:
    floor = Floor(agents=AGENTS, turn_limit=10, cooldown=2.0)
    message = said("user", "hi", "a")
    floor.grant("always", message)
    floor.start("a")
    floor.end_turn("a", now=10.0)
    floor.grant("always", said("user", "again", "a"))

    assert floor.startable(up, now=11.5) == ([], 0.5)
    assert floor.startable(up, now=12.0) == (["a"], None)


def test_no_turn_starts_beyond_the_budget_and_a_pass_costs_none() -> None:
    floor = Floor(agents=AGENTS, turn_limit=1)
    message = said("user", "hi", "a", "b")
    floor.grant("always", message)
    assert floor.startable(up, now=0.0) == (["a"], None), "one turn left: b waits"
    floor.start("a")
    floor.end_turn("a", now=0.0, counts=False)
    assert floor.turns == 0 and floor.startable(up, now=0.0) == (["b"], None)


def test_a_fresh_agent_gets_no_heard_list_and_a_down_agent_waits() -> None:
    floor = Floor(agents=AGENTS, turn_limit=5)
    floor.fresh.add("b")
    message = said("user", "hi", "b")
    floor.hear(message)
    floor.grant("round_robin", message)
    assert floor.startable(lambda agent: agent != "b", now=0.0) == ([], None)
    grant = floor.start("b")
    assert grant.heard is None, "its whole view must be sent"
    assert floor.last_speaker == "b"
