"""`TurnStream` on a reused endpoint: a turn that ended cleanly hands its endpoint back to the
pool, and the next turn on it ignores what trails the previous one. The endpoint here is a
stand-in that replays scripted messages (the real ones are exercised by every streaming test)."""

from __future__ import annotations

from collections import deque
from typing import Any

from orchestration.messages import Envelope, TurnDelta, TurnFinished, TurnStarted
from orchestration.streams import EndpointPool, Lease, TurnStream

DM = "dm:echo"


class ScriptedEndpoint:
    """Answers `listen` with the given messages, then None (a timeout)."""

    def __init__(self, messages: list[Any]) -> None:
        self.messages = deque(messages)
        self.told: list[Any] = []

    def tell(self, target: Any, message: Any) -> None:
        self.told.append(message)

    def listen(self, timeout: float) -> Any:
        return self.messages.popleft() if self.messages else None


class Context:
    closed = False

    def __exit__(self, *exc: object) -> None:
        self.closed = True


def pool_with(lease: Lease) -> EndpointPool:
    pool = EndpointPool(asys=None)  # type: ignore[arg-type]
    pool.give_back(lease)
    return pool


def test_a_late_delta_of_the_previous_turn_is_ignored_and_the_endpoint_goes_back() -> None:
    said = Envelope(conversation=DM, sender="user", content="hello")
    reply = Envelope(conversation=DM, sender="echo", content="You said: hello")
    mine = {"turn_id": "t2", "agent": "echo"}
    endpoint = ScriptedEndpoint(
        [
            TurnDelta(turn_id="t1", agent="echo", conversation=DM, text="stale tail"),
            TurnStarted(turn_id="t0", agent="echo", conversation=DM, in_reply_to="other"),
            TurnStarted(**mine, conversation=DM, in_reply_to=said.id),
            TurnDelta(**mine, conversation=DM, text="You said: "),
            TurnDelta(turn_id="t1", agent="echo", conversation=DM, text="later stale"),
            TurnDelta(**mine, conversation=DM, text="hello"),
            TurnFinished(**mine, message=reply),
        ]
    )
    lease = Lease(Context(), endpoint, deque(["t1"]))
    pool = pool_with(lease)

    with TurnStream(None, pool, "root", "echo", said, timeout=1) as stream:  # type: ignore[arg-type]
        events = list(stream)

    assert [type(e).__name__ for e in events] == [
        "TurnStarted",
        "TurnDelta",
        "TurnDelta",
        "TurnFinished",
    ]
    assert "".join(e.text for e in events if isinstance(e, TurnDelta)) == reply.content
    assert pool.take() is lease and list(lease.ended) == ["t1", "t2"]


def test_an_abandoned_turn_closes_its_endpoint_instead_of_reusing_it() -> None:
    said = Envelope(conversation=DM, sender="user", content="hello")
    started = TurnStarted(turn_id="t3", agent="echo", conversation=DM, in_reply_to=said.id)
    context = Context()
    lease = Lease(context, ScriptedEndpoint([started]))
    pool = pool_with(lease)

    with TurnStream(None, pool, "root", "echo", said, timeout=1) as stream:  # type: ignore[arg-type]
        first = next(stream)  # the reader leaves mid-turn

    assert isinstance(first, TurnStarted) and context.closed
    assert lease not in pool._idle
