"""Ctrl-C never lands inside a Thespian call: it is raised once the call has returned."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from orchestration.interrupts import Endpoint


class Transport:
    """Stands in for a Thespian endpoint whose busy mark a KeyboardInterrupt would leave set
    (as `asyncTransportBase.exclusive_processing` does); Ctrl-C arrives mid-call."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.busy = False
        self.calls = 0

    def _call(self) -> Any:
        assert not self.busy, "a call entered a transport left busy"
        self.busy = True
        self.calls += 1
        if self.calls == 1:
            os.kill(os.getpid(), signal.SIGINT)
        reply = self.replies.pop(0) if self.replies else None
        self.busy = False
        return reply

    def listen(self, timeout: float) -> Any:
        return self._call()

    def ask(self, to: Any, message: Any, timeout: float) -> Any:
        return self._call()

    def tell(self, to: Any, message: Any) -> None:
        self._call()


@pytest.fixture(autouse=True)
def default_sigint() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_a_listen_is_raised_after_it_and_the_message_comes_next() -> None:
    transport = Transport(["hello"])
    endpoint = Endpoint(transport)

    with pytest.raises(KeyboardInterrupt):
        endpoint.listen(5.0)

    assert not transport.busy
    assert endpoint.listen(5.0) == "hello"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("call", ["ask", "tell"])
def test_ctrl_c_during_a_send_is_raised_after_it(call: str) -> None:
    transport = Transport(["reply", "later"])
    endpoint = Endpoint(transport)

    with pytest.raises(KeyboardInterrupt):
        if call == "ask":
            endpoint.ask("someone", "question", 5.0)
        else:
            endpoint.tell("someone", "news")

    assert not transport.busy
    assert endpoint.listen(5.0) == "later"


def test_without_ctrl_c_a_listen_returns_what_arrives() -> None:
    transport = Transport([None, "late"])
    transport.calls = 1  # no Ctrl-C
    assert Endpoint(transport).listen(5.0) == "late"
