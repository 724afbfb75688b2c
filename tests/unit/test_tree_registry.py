"""The root's registry: subtrees found, failed and forgotten as a whole."""

from __future__ import annotations

from orchestration.messages import AgentInfo, AgentSpec, SupervisorInfo
from orchestration.supervision.registry import Registry


def _supervisor(name: str, parent: str) -> SupervisorInfo:
    return SupervisorInfo(
        name=name, parent=parent, strategy="one_for_one", intensity=1, period=5, state="running"
    )


def _agent(name: str, supervisor: str) -> AgentInfo:
    spec = AgentSpec(name=name, provider="scripted", model="echo")
    return AgentInfo(spec=spec, state="idle", pid=100, supervisor=supervisor)


def _registry() -> Registry:
    """root -> team -> (lead, crew -> (a, b)); root -> solo."""
    registry = Registry()
    registry.update(_supervisor("team", "root"), "team-address")
    registry.update(_agent("lead", "team"), "lead-address")
    registry.update(_supervisor("crew", "team"), "crew-address")
    registry.update(_agent("a", "crew"), "a-address")
    registry.update(_agent("b", "crew"), "b-address")
    registry.update(_agent("solo", "root"), "solo-address")
    return registry


def test_below_lists_a_subtree_parents_first() -> None:
    assert _registry().below("team") == ["crew", "lead", "a", "b"]


def test_top_is_the_root_child_a_node_is_in() -> None:
    registry = _registry()

    assert registry.top("b") == "team"
    assert registry.top("solo") == "solo"


def test_failing_a_subtree_marks_every_node_failed_and_names_its_agents() -> None:
    registry = _registry()

    failed = registry.fail("crew", "too many restarts")

    assert sorted(failed) == ["a", "b"]
    assert {registry.agents[n].info.state for n in ("a", "b")} == {"failed"}
    assert registry.agents["a"].info.last_error == "too many restarts"
    assert registry.agents["a"].address is None
    assert registry.agents["lead"].info.state == "idle"


def test_removing_a_supervisor_forgets_its_subtree_only() -> None:
    registry = _registry()

    gone = registry.remove("team")

    assert sorted(gone) == ["a", "b", "lead"]
    assert set(registry.agents) == {"solo"}
    assert "team" not in registry and "crew" not in registry
    assert "root" in registry, "the root's name is always taken"
