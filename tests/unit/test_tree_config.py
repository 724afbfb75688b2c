"""Tree files: a user writes YAML or TOML; every mistake comes back with its path in the file."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from orchestration.supervision.spec import AgentChildSpec, SupervisorSpec
from orchestration.supervision.tree import (
    SystemSettings,
    TreeConfig,
    TreeConfigError,
    TreeProblem,
    load_tree,
)

EXAMPLES = Path(__file__).parents[2] / "examples"
TEAM = """\
tree:
  name: team
  children:
    - name: planner
      model: scripted:echo
    - name: coder
    - name: tester
      restart: always
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(TreeConfigError) as caught:
        load_tree(path)
    return [str(problem) for problem in caught.value.problems]


def test_a_tree_file_gives_its_settings_and_its_root_supervisor(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "team.yaml",
        """\
        system:
          default_provider: scripted
          turn_timeout: 120
        tree:
          name: team
          strategy: one_for_all
          children:
            - name: planner
              model: scripted:echo
              system: You plan.
            - name: workers
              children:
                - name: coder
        """,
    )

    config = load_tree(path)

    assert config.system == SystemSettings(default_provider="scripted", turn_timeout=120)
    assert config.tree == SupervisorSpec(
        name="team",
        strategy="one_for_all",
        children=(
            AgentChildSpec(name="planner", provider="scripted", model="echo", system="You plan."),
            SupervisorSpec(name="workers", children=(AgentChildSpec(name="coder"),)),
        ),
    )
    assert config.summary() == "2 supervisors, 2 agents"


def test_the_system_section_is_optional(tmp_path: Path) -> None:
    config = load_tree(write(tmp_path, "one.yml", "tree: {name: main}\n"))

    assert config == TreeConfig(tree=SupervisorSpec(name="main"))
    assert config.system.model_dump() == dict.fromkeys(SystemSettings.model_fields)


def test_yaml_and_toml_forms_of_one_tree_give_equal_specs(tmp_path: Path) -> None:
    (tmp_path / "reviewer.md").write_text("You review.")
    as_yaml = write(
        tmp_path,
        "tree.yaml",
        """\
        system:
          provider_max_retries: 1
        tree:
          name: pipeline
          strategy: rest_for_one
          intensity: 5
          period: 30
          children:
            - name: extract
              model: anthropic:claude-sonnet-5-5
              turn_timeout: 60
            - name: review
              provider: openai
              model: llama3:8b
              system_file: reviewer.md
              restart: transient
              shutdown: brutal_kill
            - name: sinks
              type: supervisor
        """,
    )
    as_toml = write(
        tmp_path,
        "tree.toml",
        """\
        [system]
        provider_max_retries = 1

        [tree]
        name = "pipeline"
        strategy = "rest_for_one"
        intensity = 5
        period = 30

        [[tree.children]]
        name = "extract"
        model = "anthropic:claude-sonnet-5-5"
        turn_timeout = 60

        [[tree.children]]
        name = "review"
        provider = "openai"
        model = "llama3:8b"
        system_file = "reviewer.md"
        restart = "transient"
        shutdown = "brutal_kill"

        [[tree.children]]
        name = "sinks"
        type = "supervisor"
        """,
    )

    assert load_tree(as_yaml) == load_tree(as_toml)
    review = load_tree(as_toml).tree.children[1]
    assert isinstance(review, AgentChildSpec)
    assert (review.provider, review.model, review.system) == ("openai", "llama3:8b", "You review.")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        pytest.param(
            "t.yaml",
            TEAM,
            ["tree.children[2].restart: expected permanent|transient|temporary, got 'always'"],
            id="bad restart",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, shutdown: -1}]}",
            ["tree.children[0].shutdown: expected seconds >= 0 or brutal_kill, got -1"],
            id="negative shutdown",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, intensity: -1}",
            ["tree.intensity: expected a whole number >= 0, got -1"],
            id="intensity -1",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: g, period: 0, children: []}]}",
            ["tree.children[0].period: expected a whole number >= 1, got 0"],
            id="period 0",
        ),
        pytest.param(
            "t.toml",
            '[tree]\nname = "t"\nstrategy = "one_for_some"\n',
            ["tree.strategy: expected one_for_one|one_for_all|rest_for_one, got 'one_for_some'"],
            id="unknown strategy",
        ),
        pytest.param(
            "t.yaml",
            """\
            tree:
              name: t
              children:
                - name: writers
                  children: [{name: ann}, {name: bob}]
                - name: editors
                  children: [{name: ann}, {name: writers}]
            """,
            [
                "tree.children[1].children[0].name: duplicate name 'ann', "
                "also at tree.children[0].children[0].name",
                "tree.children[1].children[1].name: duplicate name 'writers', "
                "also at tree.children[0].name",
            ],
            id="duplicate names in nested supervisors",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, retries: 3}]}",
            [
                "tree.children[0].retries: unknown field 'retries' (allowed: name, restart, type,"
                " provider, model, system_file, system, shutdown, recovery, turn_timeout, command,"
                " cwd, permission_mode, allowed_tools, max_budget_usd, keep_env)"
            ],
            id="unknown agent field",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, type: worker}]}",
            ["tree.children[0].type: expected agent|supervisor, got 'worker'"],
            id="unknown child type",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, provider: antropic}]}",
            [
                "tree.children[0].provider: unknown provider 'antropic'; "
                "installed providers: anthropic, claude-code, command, openai, scripted"
            ],
            id="unknown provider",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, model: 'gpt:4o'}]}",
            [
                "tree.children[0].model: unknown provider 'gpt' in 'gpt:4o': write "
                "provider:model, or set provider (installed providers: anthropic, claude-code, "
                "command, "
                "openai, "
                "scripted)"
            ],
            id="unknown provider in the model string",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t, children: [{name: a, system_file: prompts/missing.md}]}",
            ["tree.children[0].system_file: no such file: {dir}/prompts/missing.md"],
            id="system_file missing",
        ),
        pytest.param(
            "t.yaml",
            "system: {anthropic_api_key: sk-ant-secret-1}\ntree: {name: t}",
            [
                "system.anthropic_api_key: 'anthropic_api_key' is a credential: credentials "
                "belong in the environment (ANTHROPIC_API_KEY) or in orchestration.toml, "
                "never in a tree file"
            ],
            id="credentials in system",
        ),
        pytest.param(
            "t.yaml",
            "system: {colour: red}\ntree: {name: t}",
            [
                "system.colour: unknown field 'colour' (allowed: default_provider, "
                "default_model, max_message_chars, turn_timeout, provider_timeout, "
                "provider_max_retries)"
            ],
            id="unknown system setting",
        ),
        pytest.param(
            "t.yaml",
            "tree: {name: t}\nrooms: []",
            ["rooms: unknown field 'rooms' (allowed: system, tree, conversations, workflows)"],
            id="unknown top-level field",
        ),
        pytest.param(
            "t.yaml",
            "system: {turn_timeout: 30}",
            ["tree: field required"],
            id="no tree",
        ),
        pytest.param(
            "t.yaml",
            "tree:\n  name: t\n  children:\n    - name: a\n     restart: permanent\n",
            [
                "invalid YAML at line 5, column 6: expected <block end>, "
                "but found '<block mapping start>'"
            ],
            id="malformed YAML",
        ),
        pytest.param(
            "t.toml",
            '[tree]\nname = "t"\nstrategy = one_for_all\n',
            ["invalid TOML at line 3, column 12: Invalid value"],
            id="malformed TOML",
        ),
        pytest.param(
            "t.yaml",
            "# to be written\n",
            ["the file is empty: expected the keys system (optional) and tree"],
            id="empty file",
        ),
        pytest.param(
            "t.yaml",
            "- name: a\n",
            ["expected a mapping with the keys system and tree, got [{'name': 'a'}]"],
            id="not a mapping",
        ),
        pytest.param(
            "t.json",
            '{"tree": {"name": "t"}}',
            ["unsupported file type '.json': use .yaml, .yml or .toml"],
            id="wrong suffix",
        ),
    ],
)
def test_each_mistake_is_reported_with_its_path(
    tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, name, text)

    assert problems(path) == [line.replace("{dir}", str(tmp_path.resolve())) for line in expected]


def test_a_secret_in_the_file_is_never_repeated_in_the_report(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        """\
        system: {openai_api_key: sk-SECRET}
        tree: {name: t, children: [{name: a, api_key: sk-SECRET}]}
        """,
    )

    found = problems(path)

    assert [line.split(":")[0] for line in found] == [
        "system.openai_api_key",
        "tree.children[0].api_key",
    ]
    assert not any("sk-SECRET" in line for line in found)


def test_a_missing_file_is_a_problem_too(tmp_path: Path) -> None:
    assert problems(tmp_path / "nowhere.yaml") == ["no such file"]


def test_every_field_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        """\
        system:
          turn_timeout: 0
        tree:
          name: Team
          strategy: one_for_some
          period: 0
          children:
            - name: a
              restart: always
              recovery: later
            - not an agent
            - name: group
              children:
                - name: b
                  turn_timeout: soon
                  model: nobody:nothing
        """,
    )

    assert problems(path) == [
        "system.turn_timeout: expected a number > 0, got 0",
        "tree.name: expected 1-63 lowercase letters, digits, '-', '_' or '.', starting with a "
        "letter or digit, got 'Team'",
        "tree.strategy: expected one_for_one|one_for_all|rest_for_one, got 'one_for_some'",
        "tree.period: expected a whole number >= 1, got 0",
        "tree.children[0].restart: expected permanent|transient|temporary, got 'always'",
        "tree.children[0].recovery: expected clean|resume, got 'later'",
        "tree.children[1]: expected a mapping of fields, got 'not an agent'",
        "tree.children[2].children[0].model: unknown provider 'nobody' in 'nobody:nothing': "
        "write provider:model, or set provider (installed providers: anthropic, claude-code, "
        "command, "
        "openai, "
        "scripted)",
        "tree.children[2].children[0].turn_timeout: expected a number, got 'soon'",
    ]


def test_a_problem_reads_as_path_and_message() -> None:
    assert str(TreeProblem("tree.name", "field required")) == "tree.name: field required"
    assert str(TreeProblem("", "no such file")) == "no such file"
    error = TreeConfigError(Path("t.yaml"), [TreeProblem("tree", "field required")])
    assert str(error) == "t.yaml: tree: field required"


@pytest.mark.parametrize(
    "example",
    sorted(EXAMPLES.glob("*.yaml"))
    + sorted(EXAMPLES.glob("*.yml"))
    + sorted(EXAMPLES.glob("*.toml")),
    ids=lambda path: path.name,
)
def test_every_example_validates_and_runs_offline(example: Path) -> None:
    config = load_tree(example)

    assert config.tree.agents(), f"{example.name} has no agent"
    for spec in config.tree.agents():
        assert spec.provider in ("scripted", "default"), f"{spec.name} would need the network"


def test_the_examples_folder_is_not_empty() -> None:
    assert len(list(EXAMPLES.glob("*.yaml")) + list(EXAMPLES.glob("*.toml"))) >= 3
