"""What a reader of a turn sees: deltas that always add up to the final text."""

from __future__ import annotations

from orchestration.messages import Envelope, TurnDelta, TurnFailed, TurnFinished
from orchestration.streams import DeltaLedger


def delta(text: str, turn: str = "t1") -> TurnDelta:
    return TurnDelta(turn_id=turn, agent="a", conversation="dm:a", text=text)


def finished(text: str, turn: str = "t1") -> TurnFinished:
    reply = Envelope(conversation="dm:a", sender="a", content=text)
    return TurnFinished(turn_id=turn, agent="a", message=reply)


def test_text_sent_only_with_the_end_becomes_a_last_delta() -> None:
    ledger = DeltaLedger()
    seen = [*ledger.accept(delta("Hello ")), *ledger.accept(finished("Hello world"))]

    assert [type(m).__name__ for m in seen] == ["TurnDelta", "TurnDelta", "TurnFinished"]
    assert "".join(m.text for m in seen if isinstance(m, TurnDelta)) == "Hello world"


def test_a_delta_arriving_after_the_end_is_dropped() -> None:
    ledger = DeltaLedger()
    ledger.accept(finished("done"))

    assert ledger.accept(delta("done")) == []


def test_turns_are_counted_apart_and_failures_add_nothing() -> None:
    ledger = DeltaLedger()
    ledger.accept(delta("abc", turn="t1"))
    failure = TurnFailed(turn_id="t2", agent="a", conversation="dm:a", kind="cancelled", error="")

    assert ledger.accept(failure) == [failure]
    assert ledger.accept(finished("abc", turn="t1"))[-1].turn_id == "t1"
    assert len(ledger.accept(finished("xyz", turn="t3"))) == 2
