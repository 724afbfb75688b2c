"""The DM router when its agent goes down mid-turn, in simpleSystemBase: a crash fails the turn
at once; an agent that ended its session normally sent its reply before it exited, and that
reply wins even when the supervisor's notice is handled first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from thespian.actors import Actor, ActorSystem

from orchestration.actors import service as service_module
from orchestration.actors.direct_router import FINAL_GRACE, DirectRouter
from orchestration.messages import (
    AgentMoved,
    Deliver,
    Envelope,
    InitRouter,
    Send,
    ServiceReady,
    TurnFailed,
    TurnFinished,
)

CONVERSATION = "dm:editor"


class StandInAgent(Actor):
    """Keeps what the router delivers; ``"delivered"`` asks for the last turn's id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turn_id = ""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, Deliver):
            self.turn_id = message.turn_id
        elif message == "delivered":
            self.send(sender, self.turn_id)


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> Iterator[ActorSystem]:
    monkeypatch.setattr(service_module, "set_title", lambda *names: None)  # in-process here
    asys = ActorSystem("simpleSystemBase", transientUnique=True)
    try:
        yield asys
    finally:
        asys.shutdown()


def open_turn(asys: ActorSystem, tmp_path: Path) -> tuple[Any, str]:
    """A router with a stand-in agent, and a turn delivered to it: (router, turn id)."""
    router = asys.createActor(DirectRouter)
    agent = asys.createActor(StandInAgent)
    init = InitRouter(
        conversation=CONVERSATION,
        journal_path=str(tmp_path / "journal.db"),
        agent="editor",
        max_message_chars=1000,
    )
    assert isinstance(asys.ask(router, init, 5), ServiceReady), "it tells its supervisor"
    asys.tell(router, AgentMoved(name="editor", address=agent, reason="up"))
    said = Envelope(conversation=CONVERSATION, sender="user", content="hi")
    asys.tell(router, Send(message=said))
    turn_id = asys.ask(agent, "delivered", 5)
    assert turn_id, "the turn was delivered"
    return router, turn_id


def down(ended_normally: bool) -> AgentMoved:
    return AgentMoved(
        name="editor",
        address=None,
        reason="agent editor went down during the turn (ended normally: its session ended)",
        ended_normally=ended_normally,
    )


def test_the_reply_of_an_agent_that_ended_normally_wins_over_the_notice_handled_first(
    system: ActorSystem, tmp_path: Path
) -> None:
    router, turn_id = open_turn(system, tmp_path)
    reply = Envelope(conversation=CONVERSATION, sender="editor", content="APPROVED")

    system.tell(router, down(ended_normally=True))
    system.tell(router, TurnFinished(turn_id=turn_id, agent="editor", message=reply))

    ended = system.listen(5)
    assert isinstance(ended, TurnFinished) and ended.message.content == "APPROVED"
    assert system.listen(FINAL_GRACE + 0.5) is None, "and the grace fails nothing later"


def test_a_reply_that_never_comes_fails_the_turn_at_the_grace(
    system: ActorSystem, tmp_path: Path
) -> None:
    router, turn_id = open_turn(system, tmp_path)

    system.tell(router, down(ended_normally=True))

    failed = system.listen(FINAL_GRACE + 5)
    assert isinstance(failed, TurnFailed) and failed.turn_id == turn_id
    assert "ended normally" in failed.error


def test_a_crash_fails_the_open_turn_at_once(system: ActorSystem, tmp_path: Path) -> None:
    router, turn_id = open_turn(system, tmp_path)

    system.tell(router, down(ended_normally=False))

    failed = system.listen(FINAL_GRACE / 2)
    assert isinstance(failed, TurnFailed) and failed.turn_id == turn_id
