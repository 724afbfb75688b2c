"""The protocol's words: the closed sets its fields take, its reserved names, and ids.

The literal types (message kinds, event names, states, policies, error codes), the names the
tree reserves (`ROOT_SUPERVISOR`, `SYSTEM_SENDER`...), what a name or a message's text may be
(`check_name`, `content_problem`), and how conversation ids are made.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "AGENT_NAME_PATTERN",
    "DEFAULT_HUMAN",
    "DEFAULT_PROVIDER",
    "ROOT_SUPERVISOR",
    "SYSTEM_SENDER",
    "AgentState",
    "ApprovalAction",
    "ErrorCode",
    "ErrorKind",
    "EventName",
    "HumanMode",
    "Kind",
    "MemberKind",
    "Recovery",
    "RespondPolicy",
    "Restart",
    "Role",
    "RoomAction",
    "RoomState",
    "Strategy",
    "SupervisorState",
    "check_name",
    "content_problem",
]

AGENT_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


DEFAULT_PROVIDER = "default"
"""The provider an agent names when it takes the daemon's default (resolved by the root)."""


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a valid name for an agent, member or room; else a `ValueError` that
    says what a name may be."""
    if not AGENT_NAME_PATTERN.match(value):
        raise ValueError(
            f"{kind} name {value!r} is not valid: use 1-63 lowercase letters, digits, '-', '_'"
            " or '.', starting with a letter or digit"
        )
    return value


def content_problem(text: str, limit: int) -> tuple[str, str] | None:
    """What is wrong with a message's text, and the fix: empty, or over ``limit`` characters."""
    if not text.strip():
        return "the message is empty", "type some text"
    if len(text) > limit:
        return (
            f"the message has {len(text):,} characters; the limit is {limit:,}",
            "shorten it, or raise ORCH_MAX_MESSAGE_CHARS",
        )
    return None


Kind = Literal["chat", "event", "control"]


EventName = Literal[
    "agent_spawned",
    "agent_started",
    "agent_restarted",
    "agent_failed",
    "agent_stopped",
    "restart_limit_exceeded",
    "supervisor_escalated",
    "turn_failed",
    "agent_log",
    "room_created",
    "room_paused",
    "room_resumed",
    "room_restarted",
    "room_failed",
    "topology_changed",
    "mode_changed",
    "member_joined",
    "turn_passed",
    "approval_needed",
    "approval_given",
    "input_needed",
    "conversation_ended",
    "topology_error",
    "gateway_restarted",
    "service_restarted",
    "workflow_finished",
    "workflow_failed",
]


SYSTEM_SENDER = "system"
"""The sender of what the runtime itself journals: failed turns, a run's ending."""


AgentState = Literal[
    "starting", "idle", "processing", "restarting", "stopping", "terminated", "failed"
]


SupervisorState = Literal["starting", "running", "restarting", "stopping", "terminated", "failed"]


Recovery = Literal["clean", "resume"]


Restart = Literal["permanent", "transient", "temporary"]


Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]


ROOT_SUPERVISOR = "root"
"""The name the root supervisor has in the tree (reserved: no agent or supervisor may take it)."""


ErrorKind = Literal[
    "auth",
    "rate_limit",
    "overloaded",
    "timeout",
    "bad_request",
    "connection",
    "cancelled",
    "stopped",
    "internal",
]


ErrorCode = Literal[
    "unknown_agent",
    "unknown_supervisor",
    "agent_failed",
    "tree_conflict",
    "duplicate_agent",
    "unknown_provider",
    "credentials",
    "invalid_spec",
    "invalid_message",
    "journal",
    "internal",
    "unknown_room",
    "duplicate_room",
    "invalid_room",
    "room_closed",
    "nothing_pending",
    "gateway_failed",
    "service_failed",
    "unknown_message",
    "already_answered",
]


DEFAULT_HUMAN = "user"


RespondPolicy = Literal["always", "self_select", "round_robin"]


HumanMode = Literal["free", "moderated", "prompted"]


RoomState = Literal["starting", "active", "paused", "ended", "failed"]


MemberKind = Literal["agent", "human", "system"]


Role = Literal["member", "orchestrator", "worker"]


ApprovalAction = Literal["approve", "edit", "skip"]
"""What a human does with a reply waiting for approval."""


RoomAction = Literal["show", "pause", "resume", "stop", "delete", "purge"]
