"""The options of the ``claude-code`` provider: what only Claude Code agents are given.

`ClaudeCodeOptions` is an `AgentSpec`'s ``claude_code`` field. It lives in the protocol because
the spec carries it between processes, but the provider owns it:
`orchestration.providers.claude_code` re-exports it and is its only reader.
"""

from __future__ import annotations

from pydantic import Field

from orchestration.messages.base import Message

__all__ = ["ClaudeCodeOptions"]


class ClaudeCodeOptions(Message):
    """How the Claude Code CLI runs an agent: its permissions, its tools, its budget and the
    credentials it keeps. Owned by `orchestration.providers.claude_code`, its only reader."""

    permission_mode: str = "plan"
    """What it may do unasked (``plan`` never edits)."""
    allowed_tools: tuple[str, ...] = ()
    """Tools it may use without asking (``Read``, ``Grep``...)."""
    max_budget_usd: float | None = Field(default=None, gt=0)
    """Stop a turn that would cost more than this."""
    keep_env: tuple[str, ...] = ()
    """Credential variables to pass to the CLI; it otherwise runs without
    ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_AUTH_TOKEN``, so the subscription is used.
    Names only: the values come from the daemon's environment and are never stored."""
