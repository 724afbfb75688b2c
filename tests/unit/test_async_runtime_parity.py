"""`AsyncRuntime` has exactly `Runtime`'s public calls, with the same parameters, so that the
two cannot drift: a call added to one only, or a parameter changed in one only, fails here."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, get_origin

import pytest

from orchestration.aio import AsyncRuntime
from orchestration.runtime import Runtime
from orchestration.streams import Subscription, TurnStream

STREAMS = (TurnStream, Subscription)
"""What `Runtime` returns where `AsyncRuntime` returns an async iterator."""


def public_calls(cls: type) -> dict[str, Callable[..., Any]]:
    return {
        name: getattr(cls, name)
        for name in dir(cls)
        if not name.startswith("_") and callable(getattr(cls, name))
    }


def parameters(call: Callable[..., Any]) -> list[tuple[str, Any, Any, Any]]:
    signature = inspect.signature(call, eval_str=True)
    return [(p.name, p.kind, p.default, p.annotation) for p in signature.parameters.values()]


RUNTIME_CALLS = sorted(public_calls(Runtime))


def test_both_have_the_same_public_calls() -> None:
    assert sorted(public_calls(AsyncRuntime)) == RUNTIME_CALLS


@pytest.mark.parametrize("name", RUNTIME_CALLS)
def test_a_call_takes_the_same_parameters(name: str) -> None:
    assert parameters(getattr(AsyncRuntime, name)) == parameters(getattr(Runtime, name))
    static = inspect.getattr_static(AsyncRuntime, name), inspect.getattr_static(Runtime, name)
    assert isinstance(static[0], classmethod) == isinstance(static[1], classmethod)


@pytest.mark.parametrize("name", RUNTIME_CALLS)
def test_a_call_is_awaited_or_iterated_and_returns_the_same(name: str) -> None:
    call = getattr(AsyncRuntime, name)
    assert inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
    returns = inspect.signature(call, eval_str=True).return_annotation
    expected = inspect.signature(getattr(Runtime, name), eval_str=True).return_annotation
    if expected in STREAMS:
        assert get_origin(returns) is AsyncIterator
    elif expected is Runtime:
        assert returns is AsyncRuntime
    else:
        assert returns == expected
