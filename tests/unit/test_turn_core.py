"""What both routers share: which messages the journal holds unanswered, and how a failed
turn is recorded so that the journal alone tells."""

from __future__ import annotations

from orchestration.actors.turn_core import TurnWatchdog, failure_record, unanswered
from orchestration.messages import Envelope, TurnFailed


def chat(sender: str, content: str, reply_to: str | None = None) -> Envelope:
    return Envelope(conversation="dm:a", sender=sender, content=content, in_reply_to=reply_to)


def test_a_message_is_answered_by_a_reply_or_a_failure_record_and_by_nothing_else() -> None:
    asked, failed, open_ = chat("user", "one"), chat("user", "two"), chat("user", "three")
    reply = chat("a", "You said: one", reply_to=asked.id)
    failure = TurnFailed(turn_id="t", agent="a", conversation="dm:a", kind="timeout", error="slow")
    record = failure_record("dm:a", failure, failed.id)
    event = Envelope(conversation="dm:a", sender="system", kind="event", content="noted")

    left = unanswered([asked, reply, failed, record, open_, event], agent="a")

    assert [m.content for m in left] == ["three"]
    assert record.event == "turn_failed" and record.in_reply_to == failed.id
    assert record.content == "a's turn failed (timeout): slow"
    assert record.data["kind"] == "timeout" and "v" not in record.data


def test_the_watchdog_knows_its_own_wakeups_only() -> None:
    assert TurnWatchdog.expired(("turn-stuck", "a", "t1", 2.0)) == ("a", "t1", 2.0)
    assert TurnWatchdog.expired("cooldown") is None
    assert TurnWatchdog.expired(("settle", "t1")) is None
