"""The Runtime facade: coalesced streaming, graceful stops, asyncio, and many callers at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

from orchestration.aio import AsyncRuntime
from orchestration.messages import TurnDelta, TurnFinished, TurnStarted
from orchestration.runtime import Runtime


def test_fast_deltas_are_coalesced_but_still_streamed(runtime: Runtime) -> None:
    runtime.spawn("chatty", provider="scripted")
    words = " ".join(f"w{i}" for i in range(300))

    events = list(runtime.send("chatty", f"{words} [[scripted: delay=0.002]]"))

    deltas = [e for e in events if isinstance(e, TurnDelta)]
    assert "".join(d.text for d in deltas) == f"You said: {words}"
    assert 2 <= len(deltas) <= 302 / 4, f"{len(deltas)} deltas for 302 words: not coalesced"


def test_a_graceful_stop_lets_the_current_turn_finish_within_the_grace(runtime: Runtime) -> None:
    runtime.spawn("finisher", provider="scripted")
    stream = runtime.send("finisher", "a b c [[scripted: delay=0.1]]")
    assert isinstance(next(stream), TurnStarted)
    stopper = threading.Thread(target=runtime.shutdown, args=("finisher",), kwargs={"grace": 10})

    stopper.start()
    final = list(stream)[-1]
    stopper.join(timeout=20)

    assert isinstance(final, TurnFinished) and final.message.content == "You said: a b c"
    assert runtime.list() == []
    assert runtime.history("finisher")[-1].content == "You said: a b c"


def test_threads_share_one_runtime_without_crossed_replies(runtime: Runtime) -> None:
    names = [f"t{i}" for i in range(4)]
    for name in names:
        runtime.spawn(name, provider="scripted")
    replies: dict[str, list[str]] = {name: [] for name in names}

    def talk(name: str) -> None:
        for turn in range(5):
            reply = runtime.send(name, f"{name} turn {turn}").result()
            replies[name].append(reply.message.content)

    threads = [threading.Thread(target=talk, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    for name in names:
        assert replies[name] == [f"You said: {name} turn {turn}" for turn in range(5)]


def test_the_async_runtime_streams_to_the_event_loop(runtime: Runtime) -> None:
    async def story() -> list[object]:
        client = AsyncRuntime(runtime)
        await client.spawn("async", provider="scripted")
        events = [event async for event in client.send("async", "from asyncio")]
        assert [a.spec.name for a in await client.list()] == ["async"]
        history = await client.history("async")
        return [*events, *history]

    result = asyncio.run(story())

    assert isinstance(result[0], TurnStarted)
    assert [getattr(m, "content", None) for m in result[-2:]] == [
        "from asyncio",
        "You said: from asyncio",
    ]


def test_the_async_runtime_runs_a_room_and_follows_it(runtime: Runtime) -> None:
    async def story() -> tuple[list[str], list[str]]:
        client = AsyncRuntime(runtime)
        for name in ("a", "b"):
            await client.spawn(name, provider="scripted")
        await client.create_room("duo", agents=["a", "b"], respond="round_robin", max_turns=2)
        seen: list[str] = []
        feed = await client.observe_room("duo", timeout=30)
        await client.say("duo", "hello")
        async for item in feed:
            seen.append(type(item).__name__)
            if getattr(item, "event", None) == "conversation_ended":
                break
        history = await client.room_history("duo")
        return seen, [m.sender for m in history if m.kind == "chat"]

    seen, speakers = asyncio.run(story())

    assert speakers == ["user", "a", "b"]
    assert "TurnFinished" in seen


def test_two_programs_starting_at_once_share_one_daemon(daemon_guard: object) -> None:
    script = "from orchestration.runtime import Runtime; print(Runtime.connect().status().pid)"
    starters = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    pids = {starter.communicate(timeout=90)[0].strip() for starter in starters}

    assert all(starter.returncode == 0 for starter in starters)
    assert len(pids) == 1
