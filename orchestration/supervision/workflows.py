"""The ``workflows:`` section of a tree file: named workflows built from the tree's agents.

```yaml
workflows:
  - name: review
    retry: 1                     # take a failed step again, once (default 0)
    steps:                       # one after another
      - writer                   # a turn of the tree's agent `writer`
      - parallel: [critic, fact-checker]         # at the same time; the next step gets both
      - loop:                    # again and again
          max_iterations: 3
          until: LGTM            # ...until a reply says so
          steps: [writer, critic]
      - sequence: [writer]       # a group of steps (inside parallel:, say)
```

Checking it needs no Google ADK; running it does (`orchestration.interfaces.adk`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from orchestration.messages import WorkflowSpec, WorkflowStep
from orchestration.supervision.spec_fields import Name

__all__ = ["WorkflowConfig", "expand"]

GROUPS = ("parallel", "sequence")


def expand(step: Any) -> Any:
    """A step as the file writes it (a name, or one of ``parallel:``, ``sequence:``,
    ``loop:``) as `WorkflowStep` reads it, nested steps included."""
    if isinstance(step, str):
        return {"type": "agent", "agent": step}
    if isinstance(step, dict) and len(step) == 1:
        (kind, body), *_ = step.items()
        if kind in GROUPS and isinstance(body, list):
            return {"type": kind, "steps": [expand(inner) for inner in body]}
        if kind == "loop" and isinstance(body, dict):
            inner = body.get("steps")
            steps = [expand(s) for s in inner] if isinstance(inner, list) else inner
            return {**body, "type": "loop", "steps": steps}
    raise PydanticCustomError(
        "workflow_step",
        "expected an agent's name, or one of parallel: [...], sequence: [...], "
        "loop: {max_iterations, until, steps}; got {got}",
        {"got": repr(step)[:80]},
    )


class WorkflowConfig(BaseModel):
    """One workflow of a tree file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    steps: tuple[Annotated[WorkflowStep, BeforeValidator(expand)], ...] = Field(min_length=1)
    retry: StrictInt = Field(0, ge=0, le=1)

    def to_spec(self, tree: str) -> WorkflowSpec:
        return WorkflowSpec(name=self.name, tree=tree, steps=self.steps, retry=self.retry)

    def unknown_agents(self, path: str, agents: set[str]) -> list[tuple[str, str]]:
        """Each agent a step names that the tree does not have, with the step's path."""
        return [
            (f"{path}.steps", f"unknown agent {name!r}; the tree's agents: {sorted(agents)}")
            for name in self.to_spec("").agents()
            if name not in agents
        ]
