"""The field checks a tree file's models share: names, shutdown grace words and providers.

Each raises a `PydanticCustomError` whose message says what it expected and what it got, so a
tree file's problems read the same whatever model reports them.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from orchestration.messages import AGENT_NAME_PATTERN, DEFAULT_PROVIDER
from orchestration.providers.registry import UnknownProviderError, parse_model_ref, runs_a_program

__all__ = ["Name", "require_known_provider", "runs_in_a_directory", "shutdown_grace", "valid_name"]


def runs_in_a_directory(provider: str) -> bool:
    """Whether agents of ``provider`` run a program (which then runs in a directory)."""
    return provider != DEFAULT_PROVIDER and runs_a_program(provider)


def require_known_provider(ref: str) -> None:
    """Fail validation when ``ref`` ("provider" or "provider:model") names no installed provider."""
    try:
        parse_model_ref(ref)
    except UnknownProviderError as exc:
        raise PydanticCustomError("unknown_provider", "{error}", {"error": str(exc)}) from None


def valid_name(value: str) -> str:
    """A name agents, supervisors, rooms and humans share the form of (`AGENT_NAME_PATTERN`)."""
    if not AGENT_NAME_PATTERN.match(value):
        raise PydanticCustomError(
            "name",
            "expected 1-63 lowercase letters, digits, '-', '_' or '.', starting with a letter"
            " or digit, got {got}",
            {"got": repr(value)},
        )
    return value


Name = Annotated[str, AfterValidator(valid_name)]
"""A `str` field checked by `valid_name`."""


def shutdown_grace(value: object, words: tuple[str, ...]) -> float | str:
    """A grace period in seconds (>= 0) or one of ``words`` (``brutal_kill``, ``infinity``)."""
    if isinstance(value, str) and value in words:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf:
        return float(value)
    raise PydanticCustomError(
        "shutdown",
        "expected seconds >= 0 or {words}, got {got}",
        {"words": "|".join(words), "got": repr(value)},
    )
