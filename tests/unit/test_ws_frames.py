"""`Frames`: each message once, and each turn's text once, from two sources in any order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestration.interfaces.ws_frames import FEED, OWN, Frames
from orchestration.messages import Envelope, TurnDelta, TurnFinished, TurnStarted

DM = "dm:echo"
WORDS = ["You ", "said: ", "hello ", "there"]
REPLY = Envelope(conversation=DM, sender="echo", content="".join(WORDS))


def turn(pieces: list[str]) -> list[Any]:
    """One turn as a source sends it: started, the deltas, finished."""
    common = {"turn_id": "t1", "agent": "echo"}
    return [
        TurnStarted(**common, conversation=DM, in_reply_to="m1"),
        *(TurnDelta(**common, conversation=DM, text=piece) for piece in pieces),
        TurnFinished(**common, message=REPLY),
    ]


def shown(frames: list[dict[str, Any]]) -> tuple[list[str], str]:
    return [f["type"] for f in frames if f["type"] != "delta"], "".join(
        f["text"] for f in frames if f["type"] == "delta"
    )


@given(st.lists(st.sampled_from([FEED, OWN]), min_size=12, max_size=12))
def test_two_sources_interleaved_give_one_turn(order: list[str]) -> None:
    """Whatever the interleaving of the two sources, the client sees the turn once."""
    queues = {FEED: turn(WORDS), OWN: turn(WORDS)}
    frames = Frames(DM, None)
    out: list[dict[str, Any]] = []
    for source in order:
        if queues[source]:
            out.extend(frames.of(queues[source].pop(0), source))

    kinds, text = shown(out)
    assert kinds == ["started", "finished", "message"]
    assert text == "".join(WORDS)


def test_a_source_with_coarser_deltas_fills_in_only_what_is_missing() -> None:
    frames = Frames(DM, None)
    out = frames.of(turn(WORDS)[0], FEED) + frames.of(turn(WORDS)[1], FEED)
    for item in turn(["You said: hello there"])[1:]:
        out.extend(frames.of(item, OWN))

    assert [f["text"] for f in out if f["type"] == "delta"] == ["You ", "said: hello there"]


def test_a_client_that_joined_mid_turn_gets_the_rest_and_its_cursor_moves() -> None:
    frames = Frames(DM, "earlier")
    out: list[dict[str, Any]] = []
    for item in turn(WORDS)[2:]:
        out.extend(frames.of(item))

    assert [f["type"] for f in out] == ["delta", "delta", "delta", "finished", "message"]
    assert frames.cursor == out[-1]["id"]
