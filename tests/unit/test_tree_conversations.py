"""A tree file's ``conversations:``: rooms of the tree's agents, every mistake with its path."""

from __future__ import annotations

import sys
from pathlib import Path
from textwrap import dedent, indent

import pytest

from orchestration.messages import Member, RoomSpec
from orchestration.supervision.tree import TreeConfigError, load_tree
from orchestration.tree_files import TreeFile, load_tree_file, validate_tree_file

EXAMPLES = Path(__file__).parents[2] / "examples"
TEAM = """\
tree:
  name: team
  children:
    - name: planner
      model: scripted:echo
    - name: critic
      model: scripted:echo
    - name: workers
      children:
        - name: coder
          model: scripted:echo
"""


def tree_file(folder: Path, conversations: str, name: str = "team.yaml") -> Path:
    """The team above with ``conversations`` (YAML, written as at the top level) added."""
    path = folder / name
    path.write_text(TEAM + "conversations:\n" + indent(dedent(conversations), "  "))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(TreeConfigError) as caught:
        load_tree(path)
    return [str(problem) for problem in caught.value.problems]


def agent(name: str, **fields: object) -> Member:
    return Member(name=name, kind="agent", **fields)


def human(name: str) -> Member:
    return Member(name=name, kind="human")


def test_a_conversation_takes_the_room_defaults_and_the_user_as_its_human(
    tmp_path: Path,
) -> None:
    path = tree_file(tmp_path, "- name: standup\n  agents: [planner, critic]\n")

    [room] = load_tree(path).to_rooms()

    assert room == RoomSpec(
        name="standup", members=(agent("planner"), agent("critic"), human("user"))
    )
    assert (room.topology, room.respond, room.mode) == ("broadcast", "always", "free")
    assert (room.max_turns, room.cooldown, room.stop_phrase, room.idle_timeout) == (
        20,
        0.0,
        None,
        None,
    )


def test_every_field_of_a_conversation_reaches_its_room(tmp_path: Path) -> None:
    path = tree_file(
        tmp_path,
        """\
        - name: review
          agents:
            - planner
            - {name: critic, role: worker, groups: [reviewers]}
            - name: coder
              groups: [builders, reviewers]
          humans: [alice, bob]
          orchestrator: planner
          topology: hierarchical
          respond: self_select
          mode: moderated
          max_turns: 6
          cooldown: 1.5
          stop_phrase: DONE
          idle_timeout: 300
        """,
    )

    assert load_tree(path).to_rooms() == (
        RoomSpec(
            name="review",
            members=(
                agent("planner", role="orchestrator"),
                agent("critic", role="worker", groups=("reviewers",)),
                agent("coder", groups=("builders", "reviewers")),
                human("alice"),
                human("bob"),
            ),
            topology="hierarchical",
            respond="self_select",
            mode="moderated",
            max_turns=6,
            cooldown=1.5,
            stop_phrase="DONE",
            idle_timeout=300.0,
        ),
    )


def test_a_conversation_may_have_no_human(tmp_path: Path) -> None:
    path = tree_file(tmp_path, "- {name: duet, agents: [planner, critic], humans: []}\n")

    [room] = load_tree(path).to_rooms()

    assert room.humans == [] and room.agents == ["planner", "critic"]


def test_toml_and_yaml_forms_of_conversations_give_equal_rooms(tmp_path: Path) -> None:
    as_yaml = tree_file(
        tmp_path,
        """\
        - name: standup
          agents: [planner, {name: critic, role: worker}]
          respond: round_robin
          max_turns: 6
        """,
    )
    as_toml = tmp_path / "team.toml"
    as_toml.write_text(
        dedent(
            """\
            [tree]
            name = "team"
            [[tree.children]]
            name = "planner"
            model = "scripted:echo"
            [[tree.children]]
            name = "critic"
            model = "scripted:echo"
            [[tree.children]]
            name = "workers"
            [[tree.children.children]]
            name = "coder"
            model = "scripted:echo"

            [[conversations]]
            name = "standup"
            agents = ["planner", {name = "critic", role = "worker"}]
            respond = "round_robin"
            max_turns = 6
            """
        )
    )

    assert load_tree(as_toml).to_rooms() == load_tree(as_yaml).to_rooms()


def test_a_custom_topology_is_checked_for_its_form_and_never_imported(tmp_path: Path) -> None:
    path = tree_file(
        tmp_path, "- {name: lab, agents: [planner], topology: 'custom:not_installed.routes:pick'}\n"
    )

    [room] = load_tree(path).to_rooms()

    assert room.topology == "custom:not_installed.routes:pick"
    assert "not_installed" not in sys.modules


@pytest.mark.parametrize(
    ("conversations", "expected"),
    [
        pytest.param(
            "- {name: standup, agents: [planner, planer]}\n",
            [
                "conversations[0].agents[1]: unknown agent 'planer' "
                "(the tree's agents: planner, critic, coder)"
            ],
            id="unknown agent",
        ),
        pytest.param(
            "- {name: standup, agents: [{name: workers}]}\n",
            [
                "conversations[0].agents[0]: 'workers' is a supervisor, not an agent "
                "(the tree's agents: planner, critic, coder)"
            ],
            id="a supervisor as an agent",
        ),
        pytest.param(
            "- {name: standup, agents: [planner]}\n- {name: standup, agents: [critic]}\n",
            [
                "conversations[1].name: duplicate conversation 'standup', also at "
                "conversations[0].name"
            ],
            id="duplicate conversation",
        ),
        pytest.param(
            "- {name: standup, agents: [planner, critic, planner], humans: [user, critic]}\n",
            [
                "conversations[0].agents[2]: duplicate member 'planner', also at "
                "conversations[0].agents[0]",
                "conversations[0].humans[1]: duplicate member 'critic', also at "
                "conversations[0].agents[1]",
            ],
            id="duplicate members",
        ),
        pytest.param(
            "- {name: standup, agents: [planner], respond: sometimes}\n",
            ["conversations[0].respond: expected always|self_select|round_robin, got 'sometimes'"],
            id="bad respond",
        ),
        pytest.param(
            "- {name: standup, agents: [planner], mode: loud}\n",
            ["conversations[0].mode: expected free|moderated|prompted, got 'loud'"],
            id="bad mode",
        ),
        pytest.param(
            "- {name: standup, agents: [{name: planner, role: boss}]}\n",
            ["conversations[0].agents[0].role: expected member|orchestrator|worker, got 'boss'"],
            id="bad role",
        ),
        pytest.param(
            "- {name: standup, agents: [planner], topology: star}\n",
            [
                "conversations[0].topology: expected broadcast|filtered|hierarchical or "
                "custom:package.module:function, got 'star'"
            ],
            id="unknown topology",
        ),
        pytest.param(
            "- {name: standup, agents: [planner], topology: 'custom:routes'}\n",
            [
                "conversations[0].topology: expected broadcast|filtered|hierarchical or "
                "custom:package.module:function, got 'custom:routes'"
            ],
            id="custom topology without a function",
        ),
        pytest.param(
            "- {name: standup, agents: [planner, critic], orchestrator: coder}\n",
            [
                "conversations[0].orchestrator: expected one of this conversation's agents "
                "(planner, critic), got 'coder'"
            ],
            id="orchestrator not in the conversation",
        ),
        pytest.param(
            "- {name: standup, agents: [planner, {name: critic, role: worker}], "
            "orchestrator: critic}\n",
            [
                "conversations[0].orchestrator: 'critic' has role worker at agents[1]: "
                "drop one of the two"
            ],
            id="orchestrator with another role",
        ),
        pytest.param(
            "- {name: Stand-Up, agents: []}\n",
            [
                "conversations[0].name: expected 1-63 lowercase letters, digits, '-', '_' or "
                "'.', starting with a letter or digit, got 'Stand-Up'",
                "conversations[0].agents: expected at least one agent, got []",
            ],
            id="bad name and no agent",
        ),
        pytest.param(
            "- {agents: planner, humans: [Alice]}\n",
            [
                "conversations[0].name: field required",
                "conversations[0].agents: expected a list, got 'planner'",
                "conversations[0].humans[0]: expected 1-63 lowercase letters, digits, '-', '_' "
                "or '.', starting with a letter or digit, got 'Alice'",
            ],
            id="no name, agents not a list, bad human",
        ),
        pytest.param(
            "- {name: standup, agents: [3, {agent: planner}]}\n",
            [
                "conversations[0].agents[0]: expected an agent's name or a mapping with name, "
                "role and groups, got 3",
                "conversations[0].agents[1].name: field required",
                "conversations[0].agents[1].agent: unknown field 'agent' (allowed: name, role, "
                "groups)",
            ],
            id="bad agent entries",
        ),
        pytest.param(
            "- name: standup\n  agents: [planner]\n  max_turns: 0\n  cooldown: -1\n"
            "  stop_phrase: ' '\n  idle_timeout: 0\n",
            [
                "conversations[0].max_turns: expected a whole number >= 1, got 0",
                "conversations[0].cooldown: expected a number >= 0, got -1",
                "conversations[0].stop_phrase: expected a phrase, got ' '",
                "conversations[0].idle_timeout: expected a number > 0, got 0",
            ],
            id="limits",
        ),
        pytest.param(
            "- {name: standup, agents: [planner], turns: 6}\n",
            [
                "conversations[0].turns: unknown field 'turns' (allowed: name, agents, humans, "
                "orchestrator, topology, respond, mode, max_turns, cooldown, stop_phrase, "
                "idle_timeout)"
            ],
            id="unknown field",
        ),
        pytest.param(
            "{name: standup, agents: [planner]}\n",
            ["conversations: expected a list, got {'name': 'standup', 'agents': ['planner']}"],
            id="not a list",
        ),
    ],
)
def test_each_mistake_in_a_conversation_is_reported_with_its_path(
    tmp_path: Path, conversations: str, expected: list[str]
) -> None:
    assert problems(tree_file(tmp_path, conversations)) == expected


def test_conversations_are_checked_once_the_tree_is_valid_and_with_its_name_clashes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        "tree: {name: team, children: [{name: critic}, {name: critic}]}\n"
        "conversations: [{name: standup, agents: [planner]}]\n"
    )

    assert problems(path) == [
        "tree.children[1].name: duplicate name 'critic', also at tree.children[0].name",
        "conversations[0].agents[0]: unknown agent 'planner' (the tree's agents: critic, critic)",
    ]


def test_the_summary_counts_conversations_when_there_are_some(tmp_path: Path) -> None:
    one = tree_file(tmp_path, "- {name: standup, agents: [planner]}\n", name="one.yaml")
    two = tree_file(
        tmp_path,
        "- {name: standup, agents: [planner]}\n- {name: pair, agents: [coder]}\n",
        name="two.yaml",
    )
    none = tmp_path / "none.yaml"
    none.write_text(TEAM)

    assert validate_tree_file(one) == ("2 supervisors, 3 agents, 1 conversation", [])
    assert validate_tree_file(two) == ("2 supervisors, 3 agents, 2 conversations", [])
    assert validate_tree_file(none) == ("2 supervisors, 3 agents", [])


def test_load_tree_file_gives_the_tree_and_its_rooms(tmp_path: Path) -> None:
    path = tree_file(tmp_path, "- {name: standup, agents: [planner, critic]}\n")

    loaded, found = load_tree_file(path)

    assert found == []
    assert isinstance(loaded, TreeFile)
    assert loaded.supervisor.name == "team"
    assert [room.name for room in loaded.rooms] == ["standup"]


def test_load_tree_file_reports_a_conversations_problems_and_no_tree(tmp_path: Path) -> None:
    path = tree_file(tmp_path, "- {name: standup, agents: [nobody]}\n")

    assert load_tree_file(path) == (
        None,
        [
            (
                "conversations[0].agents[0]",
                "unknown agent 'nobody' (the tree's agents: planner, critic, coder)",
            )
        ],
    )


def test_the_standup_example_is_a_round_robin_room_of_six_turns() -> None:
    config = load_tree(EXAMPLES / "standup.yaml")

    assert config.to_rooms() == (
        RoomSpec(
            name="standup",
            members=(agent("planner"), agent("critic"), human("user")),
            respond="round_robin",
            max_turns=6,
        ),
    )
    assert config.summary() == "1 supervisor, 2 agents, 1 conversation"
