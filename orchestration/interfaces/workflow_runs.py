"""Declared workflows run from a server (REST, MCP), with Google ADK imported on first use.

Without the ``adk`` extra, starting a run raises `OrchestrationError` (``adk_missing``) with
the fix; nothing else here needs ADK.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncGenerator
from types import ModuleType
from typing import Any

from orchestration.aio import AsyncRuntime
from orchestration.errors import OrchestrationError

__all__ = ["bridge", "failure", "start"]


def bridge() -> ModuleType:
    """`orchestration.interfaces.adk`, or `OrchestrationError` saying how to install ADK."""
    try:
        return importlib.import_module("orchestration.interfaces.adk")
    except ImportError as exc:
        if not (exc.name or "").startswith("google"):
            raise
        raise OrchestrationError(
            "adk_missing",
            "running workflows needs Google ADK, which this server's Python does not have",
            hint="install the extra where the server runs: uv sync --extra adk",
        ) from None


async def start(
    runtime: AsyncRuntime, name: str, text: str
) -> tuple[str, AsyncGenerator[Any, None]]:
    """Start declared workflow ``name`` on ``text``: its run's conversation, and its steps
    (`orchestration.interfaces.adk.StepEvent`) as they come. Raises for an unknown workflow."""
    adk = bridge()
    spec = await asyncio.to_thread(runtime.runtime.workflow, name)
    adk.use_runtime(runtime)
    journal = adk.RunJournal(runtime, spec.name)
    steps = adk.run(adk.build(spec), text, retry=spec.retry, journal=journal)
    return journal.conversation, steps


def failure(exc: BaseException) -> OrchestrationError | None:
    """A failed step as `OrchestrationError` (``workflow_failed``); None for other errors."""
    if not isinstance(exc, bridge().StepFailed):
        return None
    return OrchestrationError(
        "workflow_failed",
        str(exc),
        hint="see the agent's history, then run the workflow again",
    )
