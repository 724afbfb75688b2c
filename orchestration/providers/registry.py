"""Map "provider:model" strings to providers.

Providers are found through the entry point group ``orchestration.providers``: the built-in
ones register there exactly as third-party plug-ins do. A plug-in's entry point names a class
with a ``name``, a ``default_model``, ``credential_status(settings)`` and a constructor taking
`Settings`; its instances implement `LLMProvider`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from orchestration.providers.base import CredentialStatus, LLMProvider
from orchestration.providers.program import ProgramProvider
from orchestration.settings import Settings

__all__ = [
    "GROUP",
    "UnknownProviderError",
    "create_program_provider",
    "create_provider",
    "credential_report",
    "default_model_ref",
    "parse_model_ref",
    "provider_class",
    "provider_names",
    "runs_a_program",
]

GROUP = "orchestration.providers"
AUTO_ORDER = ("claude-code", "anthropic", "openai")
FALLBACK = "scripted"


class UnknownProviderError(ValueError):
    """A provider or model string names nothing we can run."""


@cache
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def provider_names() -> list[str]:
    """Every installed provider, built-in and plug-in."""
    return sorted(_entry_points())


def provider_class(name: str) -> Any:
    """The class registered under ``name``; `UnknownProviderError` lists the known ones."""
    entry = _entry_points().get(name)
    if entry is None:
        raise UnknownProviderError(
            f"unknown provider {name!r}; installed providers: {', '.join(provider_names())}"
        )
    return entry.load()


def runs_a_program(name: str) -> bool:
    """Whether provider ``name`` runs each agent as an OS program (``process = True``)."""
    return bool(getattr(provider_class(name), "process", False))


def parse_model_ref(ref: str) -> tuple[str, str]:
    """Split "provider:model" (or just "provider") into its parts, checking the provider."""
    provider, _, model = ref.partition(":")
    if not provider:
        raise UnknownProviderError(
            f"model string {ref!r} names no provider; write it as provider:model, "
            f"e.g. scripted:echo (providers: {', '.join(provider_names())})"
        )
    cls = provider_class(provider)
    return provider, model or cls.default_model


def create_provider(provider: str, settings: Settings) -> LLMProvider:
    """A provider instance for one agent."""
    return provider_class(provider)(settings)


def create_program_provider(provider: str, settings: Settings) -> ProgramProvider:
    """A provider instance for one agent whose provider runs a program (`runs_a_program`)."""
    return provider_class(provider)(settings)


def default_model_ref(settings: Settings) -> tuple[str, str, str]:
    """The provider and model new agents get, and why: (provider, model, reason).

    The settings' ``default_provider`` wins; otherwise the first provider in `AUTO_ORDER` whose
    credentials are present, else the offline `scripted` provider.
    """
    if settings.default_provider:
        provider, model = parse_model_ref(settings.default_provider)
        return provider, settings.default_model or model, "set by ORCH_DEFAULT_PROVIDER"
    for name in AUTO_ORDER:
        status = provider_class(name).credential_status(settings)
        if status.present:
            cls = provider_class(name)
            return name, settings.default_model or cls.default_model, f"found {status.source}"
    cls = provider_class(FALLBACK)
    return FALLBACK, cls.default_model, "no credentials found; offline"


def credential_report(settings: Settings) -> list[CredentialStatus]:
    """For every provider: which credential source it would use and whether it is present."""
    return [provider_class(name).credential_status(settings) for name in provider_names()]
