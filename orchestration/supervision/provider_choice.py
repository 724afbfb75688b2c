"""Provider resolution: an agent spec's default provider and model filled in, and checked.

The root resolves every spec before it starts an agent (``spawn``, ``up``) and again at each
start for the saved agents that follow the default, so a changed default takes effect there.
Pure functions of the spec and the settings; a provider that cannot be used raises.
"""

from __future__ import annotations

from typing import Any

from orchestration.messages import DEFAULT_PROVIDER, AgentSpec, ChildNode, SupervisorNode
from orchestration.providers.base import BadRequestError
from orchestration.providers.registry import create_provider, default_model_ref, parse_model_ref
from orchestration.settings import Settings

__all__ = ["resolve_provider", "resolve_tree"]


def resolve_provider(spec: AgentSpec, settings: Settings) -> AgentSpec:
    """``spec`` with the default provider and model filled in; raises `UnknownProviderError`
    or `ProviderError` when its provider cannot be used."""
    if spec.provider == DEFAULT_PROVIDER or spec.follows_default:
        provider, model, _ = default_model_ref(settings)
        follows = spec.follows_default or not spec.model
        spec = spec.model_copy(
            update={
                "provider": provider,
                "model": model if follows else spec.model,
                "follows_default": follows,
            }
        )
    else:
        provider, model = parse_model_ref(f"{spec.provider}:{spec.model}")
        spec = spec.model_copy(update={"model": model})
    chosen: Any = create_provider(spec.provider, settings.model_copy(update=spec.settings))
    chosen.validate()
    if getattr(chosen, "process", False):
        chosen.protocol(spec.model)  # a bad protocol is refused now, not at start
        chosen.check(spec)
    elif spec.command:
        raise BadRequestError(
            f"--command runs only with a process provider, not {spec.provider!r}",
            hint="use --provider command (or just --command with --protocol)",
        )
    return spec


def resolve_tree(
    node: SupervisorNode, settings: Settings, *, only_defaults: bool = False
) -> SupervisorNode:
    """``node`` with every agent's provider resolved (only those following the default, when
    rebuilding a saved tree)."""
    children: list[ChildNode] = []
    for child in node.children:
        if isinstance(child, SupervisorNode):
            children.append(resolve_tree(child, settings, only_defaults=only_defaults))
        elif only_defaults and not child.spec.follows_default:
            children.append(child)
        else:
            children.append(
                child.model_copy(update={"spec": resolve_provider(child.spec, settings)})
            )
    return node.model_copy(update={"children": tuple(children)})
