"""Topologies: who in a small team receives each message, and how bad topologies are reported.

The team: ``lead`` orchestrates, ``ann`` and ``bob`` write, ``rita`` reviews, ``hugo`` is human.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from pydantic import ValidationError

from orchestration.messages import Envelope, Member
from orchestration.topologies.routing import (
    BUILT_IN,
    Topology,
    TopologyError,
    broadcast,
    filtered,
    hierarchical,
    load_topology,
    route,
)

TEAM = (
    Member(name="lead", role="orchestrator"),
    Member(name="ann", role="worker", groups=("writers",)),
    Member(name="bob", role="worker", groups=("writers",)),
    Member(name="rita", role="worker", groups=("reviewers",)),
    Member(name="hugo", kind="human"),
)
EVERYONE = ["lead", "ann", "bob", "rita", "hugo"]
NOT_A_TOPOLOGY = 42


def only_humans(message: Envelope, members: Sequence[Member]) -> list[str]:
    """A custom topology, loaded by its dotted path in the tests below."""
    return [member.name for member in members if member.kind == "human"]


def picks_a_stranger(message: Envelope, members: Sequence[Member]) -> list[str]:
    return ["zed"]


def say(sender: str, *recipients: str) -> Envelope:
    return Envelope(conversation="room:team", sender=sender, recipients=recipients, content="hi")


def deliver(topology: Topology, message: Envelope, members: Sequence[Member] = TEAM) -> list[str]:
    return route(topology, message, members, name="test")


def everyone_but(sender: str) -> list[str]:
    return [name for name in EVERYONE if name != sender]


def route_error(topology: Topology, *, name: str = "bad") -> TopologyError:
    with pytest.raises(TopologyError) as caught:
        route(topology, say("ann"), TEAM, name=name)
    return caught.value


def load_error(name: str) -> TopologyError:
    with pytest.raises(TopologyError) as caught:
        load_topology(name)
    return caught.value


# --- members -----------------------------------------------------------------------------------


def test_a_member_is_an_agent_with_no_role_or_group_by_default() -> None:
    member = Member(name="ann")

    assert (member.kind, member.role, member.groups) == ("agent", "member", ())


def test_a_member_is_frozen_and_strict() -> None:
    with pytest.raises(ValidationError):
        Member(name="ann", team="writers")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        TEAM[0].name = "boss"  # type: ignore[misc]


# --- broadcast ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", EVERYONE)
def test_broadcast_delivers_to_every_member_but_the_sender(sender: str) -> None:
    assert deliver(broadcast, say(sender)) == everyone_but(sender)


def test_broadcast_ignores_recipients() -> None:
    assert deliver(broadcast, say("lead", "ann")) == everyone_but("lead")


# --- filtered ----------------------------------------------------------------------------------


def test_filtered_delivers_a_message_without_recipients_to_everyone_but_the_sender() -> None:
    assert deliver(filtered, say("ann")) == everyone_but("ann")


def test_filtered_delivers_an_addressed_message_to_its_recipients_only() -> None:
    assert deliver(filtered, say("lead", "rita", "ann")) == ["ann", "rita"]


def test_filtered_ignores_recipients_that_are_not_members() -> None:
    assert filtered(say("lead", "ann", "ghost"), TEAM) == ["ann"]


def test_filtered_never_delivers_a_message_to_its_sender_even_when_addressed_to_it() -> None:
    assert deliver(filtered, say("ann", "ann", "bob")) == ["bob"]


# --- hierarchical ------------------------------------------------------------------------------


def test_hierarchical_a_broadcast_of_the_orchestrator_reaches_everyone() -> None:
    assert deliver(hierarchical, say("lead")) == everyone_but("lead")


def test_hierarchical_a_broadcast_of_the_human_reaches_everyone() -> None:
    assert deliver(hierarchical, say("hugo")) == everyone_but("hugo")


def test_hierarchical_a_broadcast_of_a_worker_reaches_only_those_who_see_everything() -> None:
    assert deliver(hierarchical, say("ann")) == ["lead", "hugo"]


def test_hierarchical_a_message_to_a_worker_reaches_it_and_those_who_see_everything() -> None:
    assert deliver(hierarchical, say("lead", "rita")) == ["rita", "hugo"]


def test_hierarchical_a_message_to_a_group_reaches_its_members() -> None:
    assert deliver(hierarchical, say("rita", "writers")) == ["lead", "ann", "bob", "hugo"]


def test_hierarchical_a_worker_addressing_its_own_group_does_not_receive_it() -> None:
    assert deliver(hierarchical, say("ann", "writers")) == ["lead", "bob", "hugo"]


def test_hierarchical_the_system_sees_everything_but_its_broadcasts_stay_with_the_leads() -> None:
    team = (*TEAM, Member(name="system", kind="system"))

    assert deliver(hierarchical, say("ann"), team) == ["lead", "hugo", "system"]
    assert deliver(hierarchical, say("system"), team) == ["lead", "hugo"]


# --- loading -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["broadcast", "filtered", "hierarchical"])
def test_load_topology_finds_the_built_in_ones(name: str) -> None:
    assert load_topology(name) is BUILT_IN[name]


@pytest.mark.parametrize(
    "name",
    [
        "custom:tests.unit.test_topologies:only_humans",
        "custom:tests.unit.test_topologies.only_humans",
    ],
)
def test_load_topology_finds_a_custom_function_by_its_path(name: str) -> None:
    topology = load_topology(name)

    assert deliver(topology, say("lead")) == ["hugo"]
    assert deliver(topology, say("hugo")) == []


@pytest.mark.parametrize("name", ["", "star", "Broadcast"])
def test_load_topology_refuses_an_unknown_name_and_lists_the_choices(name: str) -> None:
    error = load_error(name)

    assert str(error) == error.message == f"unknown topology {name!r}"
    for choice in ("broadcast", "filtered", "hierarchical", "custom:package.module:function"):
        assert choice in error.hint


@pytest.mark.parametrize("name", ["custom:", "custom:only_humans", "custom:tests.unit:"])
def test_load_topology_refuses_a_custom_name_without_module_and_function(name: str) -> None:
    error = load_error(name)

    assert "does not name a function" in error.message
    assert "custom:package.module:function" in error.hint


def test_load_topology_names_a_module_it_cannot_import_and_why() -> None:
    error = load_error("custom:tests.unit.no_such_module:route")

    assert "'tests.unit.no_such_module'" in error.message
    assert "No module named" in error.message
    assert "module path" in error.hint


def test_load_topology_names_a_missing_function() -> None:
    error = load_error("custom:tests.unit.test_topologies:nobody")

    assert "has no attribute 'nobody'" in error.message
    assert "define nobody(message, members) in tests.unit.test_topologies" in error.hint


def test_load_topology_refuses_an_attribute_that_is_not_callable() -> None:
    error = load_error("custom:tests.unit.test_topologies:NOT_A_TOPOLOGY")

    assert "NOT_A_TOPOLOGY is a int, not a function" in error.message
    assert "(message, members)" in error.hint


# --- route -------------------------------------------------------------------------------------


def test_route_keeps_the_members_order_and_drops_duplicates_and_the_sender() -> None:
    def scrambled(message: Envelope, members: Sequence[Member]) -> Iterator[str]:
        yield from ["hugo", "ann", "hugo", "lead", "ann"]

    assert deliver(scrambled, say("lead")) == ["ann", "hugo"]


def test_route_names_a_topology_that_raises_and_its_exception() -> None:
    def crashing(message: Envelope, members: Sequence[Member]) -> list[str]:
        raise KeyError("writers")

    error = route_error(crashing)

    assert error.message == "topology 'bad' raised KeyError('writers')"
    assert "must not raise" in error.hint


def test_route_names_a_generator_topology_that_raises_while_it_yields() -> None:
    def crashing(message: Envelope, members: Sequence[Member]) -> Iterator[str]:
        yield "lead"
        raise RuntimeError("lost")

    assert "raised RuntimeError('lost')" in route_error(crashing).message


def test_route_names_the_non_members_a_topology_picks_and_lists_the_members() -> None:
    error = route_error(lambda message, members: ["lead", "zed", "amy"])

    assert error.message == (
        f"topology 'bad' picked ['amy', 'zed'], who are not members (members: {EVERYONE})"
    )


@pytest.mark.parametrize("returned", [None, 3, "lead", ["lead", 7]])
def test_route_refuses_what_is_not_an_iterable_of_names(returned: object) -> None:
    error = route_error(lambda message, members: returned)  # type: ignore[arg-type,return-value]

    assert "not an iterable of member names" in error.message
    assert "list of the names" in error.hint


def test_route_labels_a_topology_by_its_function_name_by_default() -> None:
    error = route_error(picks_a_stranger, name="")

    assert error.message.startswith("topology 'picks_a_stranger' picked ['zed']")
