"""The root's refusals: every command it turns down gets an `ErrorReply` that names the
problem and says what to do."""

from __future__ import annotations

from orchestration.messages import ROOT_SUPERVISOR, AgentInfo, ErrorReply
from orchestration.providers.base import BadRequestError, ProviderError
from orchestration.providers.registry import UnknownProviderError
from orchestration.supervision.intensity import RestartIntensity
from orchestration.supervision.registry import Registry
from orchestration.supervision.services import Service

__all__ = [
    "agent_down",
    "duplicate",
    "gateway_failed",
    "not_a_run",
    "provider_problem",
    "service_failed",
    "unknown_agent",
    "unknown_room_agents",
    "unknown_supervisor",
]


def unknown_agent(registry: Registry, name: str) -> ErrorReply:
    """No agent has that name: list the known ones."""
    known = ", ".join(sorted(registry.agents)) or "none yet"
    return ErrorReply(
        code="unknown_agent",
        error=f"no agent named {name!r} (known agents: {known})",
        hint="create it with: orchestration spawn NAME",
    )


def unknown_supervisor(registry: Registry, name: str, restarting: bool) -> ErrorReply:
    """No running supervisor has that name: say whether it is down or list the known ones."""
    if restarting:
        return ErrorReply(
            code="unknown_supervisor",
            error=f"supervisor {name!r} is not running right now (it is restarting or failed)",
            hint="see `orchestration tree`, and try again once it runs",
        )
    known = ", ".join([ROOT_SUPERVISOR, *sorted(registry.supervisors)])
    return ErrorReply(
        code="unknown_supervisor",
        error=f"no supervisor named {name!r} (supervisors: {known})",
        hint="start a tree with: orchestration up FILE",
    )


def agent_down(info: AgentInfo) -> ErrorReply:
    """The agent is failed or terminated: its history is kept; say how to start it again."""
    name = info.spec.name
    if info.state == "failed":
        return ErrorReply(
            code="agent_failed",
            error=f"agent {name} has failed: {info.last_error}",
            hint=f"its history is kept; to start it again: orchestration shutdown {name}, "
            f"then orchestration spawn {name} (or `orchestration up FILE` for a tree)",
        )
    return ErrorReply(
        code="agent_failed",
        error=f"agent {name} has terminated ({info.last_error or 'it ended'}) and its "
        f"restart type ({info.restart}) does not bring it back",
        hint=f"its history is kept; to start it again: orchestration shutdown {name}, "
        f"then orchestration spawn {name}",
    )


def duplicate(registry: Registry, names: list[str]) -> ErrorReply:
    """Names already taken in the tree, each said as an agent's or a supervisor's."""
    taken = [
        f"{'an agent' if name in registry.agents else 'a supervisor'} named {name!r}"
        for name in names
    ]
    return ErrorReply(
        code="duplicate_agent",
        error=f"{', '.join(taken)} already exist{'s' * (len(names) == 1)} in the tree",
        hint=f"pick another name, or stop it first: orchestration shutdown {names[0]}",
    )


def provider_problem(exc: Exception) -> ErrorReply:
    """An unknown provider, one whose credentials are missing, or a spec it cannot run."""
    if isinstance(exc, UnknownProviderError):
        hint = "pick one of those, or install a plug-in in the orchestration.providers group"
        return ErrorReply(code="unknown_provider", error=str(exc), hint=hint)
    assert isinstance(exc, ProviderError)
    code = "invalid_spec" if isinstance(exc, BadRequestError) else "credentials"
    return ErrorReply(code=code, error=exc.args[0], hint=exc.hint)


def unknown_room_agents(registry: Registry, room: str, missing: list[str]) -> ErrorReply:
    """A room names agents that do not exist: name them and say how to create them."""
    known = ", ".join(sorted(registry.agents)) or "none yet"
    return ErrorReply(
        code="unknown_agent",
        error=f"room {room} names agents that do not exist: {', '.join(missing)}"
        f" (known agents: {known})",
        hint=f"spawn them first: orchestration spawn {missing[0]}",
    )


def gateway_failed(window: RestartIntensity) -> ErrorReply:
    """The root gave the gateway up: say why remote streaming is off and how to restore it."""
    return ErrorReply(
        code="gateway_failed",
        error=(
            f"the gateway needed more than {window.intensity} restart(s) within"
            f" {window.period} s and was given up; remote clients cannot follow conversations"
        ),
        hint="see the daemon log, then restart the daemon: orchestration down, then up",
    )


def not_a_run(conversation: str) -> ErrorReply:
    return ErrorReply(
        code="invalid_message",
        error=f"{conversation!r} is not a workflow run's conversation",
        hint="record only in workflow:NAME:RUN conversations; agents and rooms journal their own",
    )


def service_failed(service: Service) -> ErrorReply:
    """A router or the rooms supervisor exited too often and was given up."""
    return ErrorReply(
        code="service_failed",
        error=f"{service.given_up}; it was given up",
        hint="see the daemon log, then restart the daemon: orchestration down, then up",
    )
