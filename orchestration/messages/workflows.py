"""Workflows: the steps a tree file declares (`WorkflowSpec`), and the commands that
record them and their runs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from orchestration.messages.api import Envelope
from orchestration.messages.base import Message

__all__ = [
    "AgentStep",
    "DeclareWorkflows",
    "ListRuns",
    "ListWorkflows",
    "LoopStep",
    "ParallelStep",
    "Record",
    "RunList",
    "SequenceStep",
    "WorkflowList",
    "WorkflowSpec",
    "WorkflowStep",
]


class AgentStep(Message):
    """A workflow step: one turn of ``agent``."""

    type: Literal["agent"] = "agent"
    agent: str


class SequenceStep(Message):
    """Steps one after another, each given the previous one's output."""

    type: Literal["sequence"] = "sequence"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)


class ParallelStep(Message):
    """Steps at the same time, each given the same input; the next step gets every output."""

    type: Literal["parallel"] = "parallel"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)


class LoopStep(Message):
    """Steps again and again: at most ``max_iterations`` rounds, and no more once a reply
    contains ``until``."""

    type: Literal["loop"] = "loop"
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)
    max_iterations: int = Field(ge=1)
    until: str | None = None


WorkflowStep = Annotated[
    AgentStep | SequenceStep | ParallelStep | LoopStep, Field(discriminator="type")
]


class WorkflowSpec(Message):
    """A workflow a tree file declares: its steps (run in order), from the agents of ``tree``;
    ``retry`` is how many times a failed step is taken again (0 or 1)."""

    name: str
    tree: str
    steps: tuple[WorkflowStep, ...]
    retry: int = 0

    def agents(self) -> list[str]:
        """Every agent a step of the workflow names, in order, each once."""
        found: list[str] = []
        pending = list(self.steps)
        while pending:
            step = pending.pop(0)
            if isinstance(step, AgentStep):
                if step.agent not in found:
                    found.append(step.agent)
            else:
                pending[:0] = list(step.steps)
        return found


class DeclareWorkflows(Message):
    """Record the workflows of tree ``tree`` (its tree file's ``workflows:``), replacing the
    ones it declared before. Replies `Ok`."""

    tree: str
    workflows: tuple[WorkflowSpec, ...]


class Record(Message):
    """Journal ``message`` in a workflow run's conversation and send it to that conversation's
    followers (a run has no router: its caller writes it). Replies `Ok`."""

    message: Envelope


class ListRuns(Message):
    """Ask the root for the workflow runs in the journal, oldest first. Replies `RunList`."""


class RunList(Message):
    runs: list[str]
    """Each run's conversation, ``workflow:NAME:RUN``."""


class ListWorkflows(Message):
    """Ask the root for the workflows the trees declare. Replies `WorkflowList`."""


class WorkflowList(Message):
    workflows: list[WorkflowSpec]
