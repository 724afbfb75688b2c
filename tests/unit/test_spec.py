"""Supervision specs: OTP's defaults, the forms of a model string, and a tree walked in order."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestration.messages import AgentNode, AgentSpec
from orchestration.supervision.spec import (
    DEFAULT_PROVIDER,
    AgentChildSpec,
    SupervisorSpec,
    TreeDefaults,
)


def agent(name: str, **fields: object) -> dict[str, object]:
    return {"name": name, **fields}


def supervisor(name: str, *children: dict[str, object], **fields: object) -> dict[str, object]:
    return {"name": name, "children": list(children), **fields}


def errors(
    model: type[AgentChildSpec | SupervisorSpec],
    data: dict[str, object],
    context: dict[str, object] | None = None,
) -> list:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data, context=context)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


def test_an_agent_gets_the_otp_defaults_and_the_daemons_default_provider() -> None:
    spec = AgentChildSpec(name="coder")

    assert spec.type == "agent"
    assert (spec.provider, spec.model) == (DEFAULT_PROVIDER, "") == ("default", "")
    assert spec.system == "" and spec.system_file is None
    assert spec.restart == "permanent"
    assert spec.shutdown == 5.0
    assert spec.recovery == "resume"
    assert spec.turn_timeout is None


def test_a_supervisor_gets_the_otp_defaults() -> None:
    spec = SupervisorSpec(name="team")

    assert spec.type == "supervisor"
    assert spec.strategy == "one_for_one"
    assert (spec.intensity, spec.period) == (1, 5)
    assert spec.restart == "permanent"
    assert spec.shutdown == "infinity"
    assert spec.children == ()


@pytest.mark.parametrize(
    ("fields", "provider", "model"),
    [
        ({"model": "anthropic:claude-sonnet-5-5"}, "anthropic", "claude-sonnet-5-5"),
        ({"provider": "anthropic", "model": "claude-sonnet-5-5"}, "anthropic", "claude-sonnet-5-5"),
        ({"model": "scripted"}, "scripted", ""),
        ({"provider": "openai", "model": "llama3:8b"}, "openai", "llama3:8b"),
        ({"model": "openai:llama3:8b"}, "openai", "llama3:8b"),
        ({}, "default", ""),
    ],
)
def test_the_model_string_may_carry_its_provider(
    fields: dict[str, str], provider: str, model: str
) -> None:
    spec = AgentChildSpec.model_validate(agent("coder", **fields))

    assert (spec.provider, spec.model) == (provider, model)


def test_a_model_without_a_known_provider_is_refused_on_the_model_field() -> None:
    assert errors(AgentChildSpec, agent("a", model="claude-x")) == [
        (
            ("model",),
            "no provider in 'claude-x': write provider:model, or set provider "
            "(installed providers: anthropic, claude-code, command, openai, scripted)",
        )
    ]
    assert errors(AgentChildSpec, agent("a", model="antropic:claude-x")) == [
        (
            ("model",),
            "unknown provider 'antropic' in 'antropic:claude-x': write provider:model, or set "
            "provider (installed providers: anthropic, claude-code, command, openai, scripted)",
        )
    ]
    assert errors(AgentChildSpec, agent("a", provider="antropic")) == [
        (
            ("provider",),
            "unknown provider 'antropic'; installed providers: anthropic, claude-code, command, "
            "openai, "
            "scripted",
        )
    ]


def test_to_node_is_what_the_supervisor_runs_with_the_trees_defaults_applied() -> None:
    spec = AgentChildSpec.model_validate(
        agent(
            "critic",
            model="scripted:echo",
            system="Be brief.",
            recovery="clean",
            restart="transient",
            shutdown="brutal_kill",
        )
    )

    assert spec.to_node(TreeDefaults()) == AgentNode(
        spec=AgentSpec(
            name="critic", provider="scripted", model="echo", system="Be brief.", recovery="clean"
        ),
        restart="transient",
        shutdown="brutal_kill",
    )
    defaults = TreeDefaults(
        provider="anthropic", model="m", turn_timeout=9.0, settings={"provider_timeout": 3.0}
    )
    assert AgentChildSpec(name="plain").to_node(defaults).spec == AgentSpec(
        name="plain",
        provider="anthropic",
        model="m",
        turn_timeout=9.0,
        settings={"provider_timeout": 3.0},
    )
    assert spec.to_node(defaults).spec.provider == "scripted", "a named provider wins"


def test_shutdown_is_a_grace_time_or_brutal_kill_and_infinity_only_for_supervisors() -> None:
    assert AgentChildSpec(name="a", shutdown=0).shutdown == 0.0
    assert AgentChildSpec(name="a", shutdown=2.5).shutdown == 2.5
    assert AgentChildSpec(name="a", shutdown="brutal_kill").shutdown == "brutal_kill"
    assert SupervisorSpec(name="s", shutdown=10).shutdown == 10.0
    assert SupervisorSpec(name="s", shutdown="brutal_kill").shutdown == "brutal_kill"

    assert errors(AgentChildSpec, agent("a", shutdown="infinity")) == [
        (("shutdown",), "expected seconds >= 0 or brutal_kill, got 'infinity'")
    ]
    assert errors(AgentChildSpec, agent("a", shutdown=True)) == [
        (("shutdown",), "expected seconds >= 0 or brutal_kill, got True")
    ]
    assert errors(SupervisorSpec, supervisor("s", shutdown=-1)) == [
        (("shutdown",), "expected seconds >= 0 or brutal_kill|infinity, got -1")
    ]


def test_names_follow_the_agent_name_rule() -> None:
    assert errors(SupervisorSpec, supervisor("Team", agent("ok"))) == [
        (
            ("name",),
            "expected 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter "
            "or digit, got 'Team'",
        )
    ]


def test_a_child_is_a_supervisor_when_it_has_children_or_says_so() -> None:
    root = SupervisorSpec.model_validate(
        supervisor(
            "top",
            agent("a"),
            agent("b", type="agent"),
            supervisor("group"),
            {"name": "empty", "type": "supervisor"},
        )
    )

    kinds = [type(child) for child in root.children]
    assert kinds == [AgentChildSpec, AgentChildSpec, SupervisorSpec, SupervisorSpec]
    assert errors(SupervisorSpec, supervisor("top", agent("w", type="worker"))) == [
        (("children", 0), "expected type agent|supervisor")
    ]


def test_errors_inside_a_child_are_reported_against_the_right_model() -> None:
    found = errors(
        SupervisorSpec, supervisor("top", agent("a", strategy="one_for_all"), supervisor("g"))
    )

    assert found == [(("children", 0, "agent", "strategy"), "Extra inputs are not permitted")]


def test_walk_yields_every_node_with_its_path_in_start_order() -> None:
    root = SupervisorSpec.model_validate(
        supervisor("top", agent("a"), supervisor("group", agent("b"), agent("c")), agent("d"))
    )

    assert [(path, node.name) for path, node in root.walk()] == [
        ("", "top"),
        ("children[0]", "a"),
        ("children[1]", "group"),
        ("children[1].children[0]", "b"),
        ("children[1].children[1]", "c"),
        ("children[2]", "d"),
    ]
    assert [path for path, _ in root.walk("tree")][:3] == [
        "tree",
        "tree.children[0]",
        "tree.children[1]",
    ]
    assert [spec.name for spec in root.agents()] == ["a", "b", "c", "d"]
    assert [spec.name for spec in root.supervisors()] == ["top", "group"]


def test_every_name_in_the_tree_is_unique_and_a_clash_names_both_paths() -> None:
    root = SupervisorSpec.model_validate(
        supervisor("top", agent("a"), supervisor("group", agent("a"), agent("top")))
    )

    assert root.name_clashes("tree") == [
        ("tree.children[1].children[0].name", "duplicate name 'a', also at tree.children[0].name"),
        ("tree.children[1].children[1].name", "duplicate name 'top', also at tree.name"),
    ]


def test_root_is_the_root_supervisors_name_and_taken() -> None:
    assert errors(SupervisorSpec, supervisor("root")) == [
        (("name",), "'root' is the root supervisor's name; pick another")
    ]
    assert SupervisorSpec.model_validate(supervisor("top", agent("a"))).name_clashes() == []


def test_system_file_is_read_relative_to_the_base_dir(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "critic.md").write_text("You criticise.\n")

    spec = AgentChildSpec.model_validate(
        agent("critic", system_file="prompts/critic.md"), context={"base_dir": tmp_path}
    )

    assert spec.system == "You criticise.\n"
    assert spec.system_file == (tmp_path / "prompts" / "critic.md").resolve()
    with pytest.raises(ValidationError, match="give system or system_file, not both"):
        AgentChildSpec.model_validate(
            agent("critic", system="x", system_file="prompts/critic.md"),
            context={"base_dir": tmp_path},
        )


def test_specs_are_frozen_values_that_pickle() -> None:
    root = SupervisorSpec.model_validate(supervisor("top", agent("a", model="scripted:echo")))

    with pytest.raises(ValidationError):
        root.intensity = 3  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(root)) == root


def test_a_program_agent_names_its_command_and_runs_in_the_tree_files_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "tools").mkdir()
    context = {"base_dir": tmp_path}

    spec = AgentChildSpec.model_validate(
        agent("tool", model="command:lines", command="python 'my agent.py' --fast"),
        context=context,
    )
    placed = AgentChildSpec.model_validate(
        agent("tool", model="command:jsonl", command=["./run"], cwd="tools"), context=context
    )

    assert spec.command == ("python", "my agent.py", "--fast")
    node = spec.to_node(TreeDefaults(base_dir=tmp_path))
    assert node.spec.provider == "command" and node.spec.model == "lines"
    assert node.spec.cwd == str(tmp_path)
    assert placed.to_node(TreeDefaults(base_dir=tmp_path)).spec.cwd == str(tmp_path / "tools")
    assert AgentChildSpec(name="plain").to_node(TreeDefaults()).spec.cwd is None


def test_a_command_needs_the_command_provider_and_the_other_way_round(tmp_path: Path) -> None:
    assert errors(AgentChildSpec, agent("tool", model="scripted", command="run")) == [
        ((), "command runs only with provider command (e.g. model: command:jsonl)")
    ]
    assert errors(AgentChildSpec, agent("tool", model="command:jsonl")) == [
        ((), "provider command needs a command to run")
    ]
    assert errors(AgentChildSpec, agent("tool", model="command:jsonl", command="run 'x")) == [
        (("command",), 'cannot split "run \'x": No closing quotation')
    ]
    missing = errors(
        AgentChildSpec,
        agent("tool", model="command:jsonl", command="run", cwd="nowhere"),
        context={"base_dir": tmp_path},
    )
    assert missing == [(("cwd",), f"no such directory: {tmp_path / 'nowhere'}")]


def test_a_claude_code_agent_in_a_tree_carries_its_cli_options(tmp_path: Path) -> None:
    spec = AgentChildSpec.model_validate(
        agent(
            "coder",
            model="claude-code:opus",
            allowed_tools=["Read", "Grep"],
            permission_mode="acceptEdits",
            max_budget_usd=2.0,
        )
    )

    node = spec.to_node(TreeDefaults(base_dir=tmp_path)).spec
    assert (node.provider, node.model, node.cwd) == ("claude-code", "opus", str(tmp_path))
    options = node.claude_code
    assert options.allowed_tools == ("Read", "Grep") and options.permission_mode == "acceptEdits"
    assert options.max_budget_usd == 2.0
    assert errors(AgentChildSpec, agent("coder", permission_mode="yolo"))[0][0] == (
        "permission_mode",
    )
