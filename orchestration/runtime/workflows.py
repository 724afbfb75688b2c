"""`WorkflowCalls`: the `Runtime`'s calls about workflows: the declared ones, and their runs'
journals, which an ADK bridge (`orchestration.interfaces.adk`) records and observers follow."""

from __future__ import annotations

from orchestration.messages import (
    Envelope,
    ListRuns,
    ListWorkflows,
    Ok,
    Record,
    RunList,
    WorkflowList,
    WorkflowSpec,
)
from orchestration.runtime.connection import Connection
from orchestration.streams import OrchestrationError, Subscription

__all__ = ["WorkflowCalls"]


class WorkflowCalls(Connection):
    """The `Runtime`'s calls about workflows and their runs."""

    def workflows(self) -> list[WorkflowSpec]:
        """The workflows the trees' files declare (run them with `orchestration.interfaces.adk`)."""
        return self._ask(ListWorkflows(), WorkflowList).workflows

    def workflow(self, name: str) -> WorkflowSpec:
        """The declared workflow ``name``; raises `OrchestrationError` (``unknown_workflow``)."""
        declared = self.workflows()
        for workflow in declared:
            if workflow.name == name:
                return workflow
        known = ", ".join(w.name for w in declared) or "none yet"
        raise OrchestrationError(
            "unknown_workflow",
            f"no workflow named {name!r} (declared: {known})",
            hint="declare it under workflows: in a tree file, then orchestration up FILE",
        )

    def record(self, message: Envelope) -> None:
        """Journal ``message`` in its workflow run's conversation (``workflow:NAME:RUN``) and
        send it to whoever follows that run (`observe_run`)."""
        self._check_text(message.content)
        self._ask(Record(message=message), Ok)

    def runs(self) -> list[str]:
        """The workflow runs in the journal, oldest first, as their conversations."""
        return self._ask(ListRuns(), RunList).runs

    def run_history(
        self, conversation: str, *, limit: int = 1000, newest: bool = False
    ) -> list[Envelope]:
        """The journaled messages of a workflow run (the first ``limit``, or the last)."""
        return self.conversation_page(conversation, limit=limit, newest=newest).messages

    def observe_run(self, conversation: str, *, timeout: float | None = None) -> Subscription:
        """What a workflow run records from now on (`Envelope`s)."""
        return Subscription(self._asys, [(self._root, conversation)], timeout)
