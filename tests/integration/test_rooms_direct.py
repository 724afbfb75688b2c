"""The Runtime asks the rooms supervisor itself, and reads history from the journal: a room
command right after a kill -9 of the rooms supervisor reaches its next incarnation exactly
once, and a history read needs no answer from the tree."""

from __future__ import annotations

import os
import signal

from orchestration.runtime import Runtime
from tests.chaos.processes import one


def test_a_say_right_after_the_rooms_supervisor_died_is_said_once(runtime: Runtime) -> None:
    runtime.spawn("a", provider="scripted", model="echo")
    runtime.create_room("after", agents=["a"], max_turns=10)
    runtime.room("after", "pause")
    for round_ in range(3):
        rooms = one(runtime.settings, "rooms")
        assert rooms is not None
        os.kill(rooms, signal.SIGKILL)
        said = runtime.say("after", f"right after the kill {round_}")  # reaches the dead one
        assert said.delivered_to == ("a",)

    texts = [m.content for m in runtime.room_history("after") if m.sender == "user"]
    assert texts == [f"right after the kill {n}" for n in range(3)]
    assert runtime.room("after").state == "paused"
