"""The ``workflows:`` section of tree files: checked offline, every mistake with its path."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from orchestration.messages import AgentStep, LoopStep, ParallelStep, SequenceStep
from orchestration.supervision.tree import TreeConfigError, load_tree

TREE = """\
tree:
  name: team
  children:
    - {name: writer, model: "scripted:echo"}
    - {name: critic-1, model: "scripted:echo"}
workflows:
"""


def load(tmp_path: Path, workflows: str) -> object:
    path = tmp_path / "team.yaml"
    path.write_text(TREE + dedent(workflows))
    return load_tree(path)


def problems(tmp_path: Path, workflows: str) -> list[str]:
    with pytest.raises(TreeConfigError) as caught:
        load(tmp_path, workflows)
    return [str(problem) for problem in caught.value.problems]


def test_steps_are_names_parallel_sequence_and_loop_groups(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
          - name: review
            retry: 1
            steps:
              - writer
              - parallel: [critic-1, {sequence: [writer]}]
              - loop: {max_iterations: 3, until: LGTM, steps: [writer, critic-1]}
        """,
    )

    (spec,) = config.to_workflows()  # type: ignore[attr-defined]
    assert spec.name == "review" and spec.tree == "team" and spec.retry == 1
    first, parallel, loop = spec.steps
    assert first == AgentStep(agent="writer")
    assert isinstance(parallel, ParallelStep)
    assert parallel.steps == (AgentStep(agent="critic-1"), SequenceStep(steps=(first,)))
    assert isinstance(loop, LoopStep) and (loop.max_iterations, loop.until) == (3, "LGTM")
    assert spec.agents() == ["writer", "critic-1"]
    assert config.summary().endswith("1 workflow")  # type: ignore[attr-defined]


def test_a_bad_step_names_its_path_and_the_forms_it_may_take(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
          - name: bad
            steps:
              - writer
              - {weird: 1}
              - loop: {max_iterations: 0, steps: [writer]}
              - parallel: []
        """,
    )

    assert any(p.startswith("workflows[0].steps[1]: expected an agent's name") for p in found)
    assert any(p.startswith("workflows[0].steps[2].loop.max_iterations:") for p in found)
    assert any(p.startswith("workflows[0].steps[3].parallel.steps:") for p in found)


def test_unknown_agents_duplicate_names_and_a_retry_above_one_are_refused(
    tmp_path: Path,
) -> None:
    assert problems(
        tmp_path,
        """\
          - {name: one, steps: [writer, ghost]}
          - {name: one, steps: [writer]}
        """,
    ) == [
        "workflows[0].steps: unknown agent 'ghost'; the tree's agents: ['critic-1', 'writer']",
        "workflows[1].name: duplicate workflow 'one', also at workflows[0].name",
    ]
    assert any(
        p.startswith("workflows[0].retry:")
        for p in problems(tmp_path, "  - {name: two, retry: 2, steps: [writer]}\n")
    )
