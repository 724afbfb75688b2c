"""The WebSocket over a real uvicorn server and the real `websockets` client, on one daemon
per module."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from orchestration.interfaces.rest import create_app
from orchestration.interfaces.ws import Feed
from orchestration.messages import GatewayFeed
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError
from tests.interfaces.conftest import serving
from tests.support import wait_until

DEADLINE = 20.0
Frame = dict[str, Any]


@pytest.fixture(scope="module")
def api(shared_runtime: Runtime) -> Iterator[httpx2.Client]:
    """The API with default settings (loopback, no token)."""
    with serving(create_app(shared_runtime, shared_runtime.settings, token=None)) as client:
        yield client


def ws_url(api: httpx2.Client, conversation: str, query: str = "") -> str:
    base = str(api.base_url).replace("http://", "ws://").rstrip("/")
    return f"{base}/v1/ws/conversations/{conversation}" + (f"?{query}" if query else "")


def spawn(api: httpx2.Client, name: str) -> None:
    reply = api.post("/v1/agents", json={"name": name, "provider": "scripted", "model": "echo"})
    assert reply.status_code == 201, reply.text


def frames_until(ws: ClientConnection, last: Callable[[Frame], bool], what: str) -> list[Frame]:
    """The frames received up to and including the first ``last`` one; fails at the deadline."""
    frames: list[Frame] = []
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            frames.append(json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.01))))
        except TimeoutError:
            pytest.fail(f"no {what} within {DEADLINE:g} s; got {frames}")
        if last(frames[-1]):
            return frames


def ready(ws: ClientConnection) -> Frame:
    return frames_until(ws, lambda f: f["type"] == "ready", "ready frame")[-1]


def reply_from(agent: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "message" and f["message"]["sender"] == agent


def contents(frames: list[Frame]) -> list[str]:
    return [f["message"]["content"] for f in frames if f["type"] == "message"]


def close_code(ws: ClientConnection) -> int | None:
    """The code the server closed with (the frames before the close are skipped)."""
    with pytest.raises(ConnectionClosed) as closed:
        frames_until(ws, lambda _: False, "close")
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


# --- direct conversations ----------------------------------------------------------------------


def test_a_say_frame_streams_the_reply_as_frames(api: httpx2.Client) -> None:
    spawn(api, "ws-say")

    with connect(ws_url(api, "dm:ws-say")) as ws:
        assert ready(ws) == {
            "type": "ready",
            "conversation": "dm:ws-say",
            "resumed_from": None,
            "replayed": 0,
        }
        ws.send(json.dumps({"type": "say", "content": "one two three"}))
        frames = frames_until(ws, reply_from("ws-say"), "the reply")

    kinds = [f["type"] for f in frames if f["type"] != "message"]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert set(kinds[1:-1]) == {"delta"}
    text = "".join(f["text"] for f in frames if f["type"] == "delta")
    assert text == frames[-1]["message"]["content"] == "You said: one two three"
    assert contents(frames) == ["one two three", "You said: one two three"]
    assert all(f["id"] == f["cursor"] == f["message"]["id"] for f in frames if "cursor" in f)


def test_ping_gets_pong_and_a_bad_frame_an_error_frame(api: httpx2.Client) -> None:
    spawn(api, "ws-ping")

    with connect(ws_url(api, "dm:ws-ping")) as ws:
        ready(ws)
        ws.send(json.dumps({"type": "shout"}))
        error = frames_until(ws, lambda f: f["type"] == "error", "an error frame")[-1]
        ws.send(json.dumps({"type": "ping"}))
        pong = frames_until(ws, lambda f: f["type"] == "pong", "a pong")[-1]

    assert error["problem"]["status"] == 422
    assert error["problem"]["type"].endswith("/invalid-frame")
    assert pong == {"type": "pong"}


def test_a_client_resumes_after_the_last_message_it_got(api: httpx2.Client) -> None:
    spawn(api, "ws-resume")
    with connect(ws_url(api, "dm:ws-resume")) as ws:
        ready(ws)
        ws.send(json.dumps({"type": "say", "content": "first"}))
        cursor = frames_until(ws, reply_from("ws-resume"), "the first reply")[-1]["cursor"]

    for word in ("second", "third"):  # while no socket is open
        said = api.post("/v1/agents/ws-resume/messages", json={"content": word})
        assert said.status_code == 200, said.text

    with connect(ws_url(api, "dm:ws-resume", f"after={cursor}")) as ws:
        replayed = frames_until(ws, lambda f: f["type"] == "ready", "the replay and ready")
        ws.send(json.dumps({"type": "say", "content": "fourth"}))
        live = frames_until(ws, reply_from("ws-resume"), "the live reply")

    assert replayed[-1]["resumed_from"] == cursor and replayed[-1]["replayed"] == 4
    assert contents(replayed) == ["second", "You said: second", "third", "You said: third"]
    assert contents(live) == ["fourth", "You said: fourth"]
    ids = [f["id"] for f in replayed + live if f["type"] == "message"]
    assert len(ids) == len(set(ids)) == 6


def test_a_restart_event_arrives_after_kill_9_of_the_agent(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-kill")

    with connect(ws_url(api, "dm:ws-kill")) as ws:
        ready(ws)
        os.kill(shared_runtime.resolve("ws-kill").agent.pid, signal.SIGKILL)
        frames = frames_until(
            ws,
            lambda f: f["type"] == "message" and f["message"]["event"] == "agent_restarted",
            "the agent_restarted event",
        )

    assert frames[-1]["message"]["data"]["agent"] == "ws-kill"


def followers(runtime: Runtime, conversation: str) -> GatewayFeed | None:
    """The gateway's feed of ``conversation``, if it has one."""
    feeds = [f for f in runtime.gateway().feeds if f.conversation == conversation]
    return feeds[0] if feeds else None


def test_a_client_leaving_stops_the_gateway_feed(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-leave")

    with connect(ws_url(api, "dm:ws-leave")) as ws:
        ready(ws)
        while_open = followers(shared_runtime, "dm:ws-leave")

    wait_until(lambda: followers(shared_runtime, "dm:ws-leave") is None, "the feed's end", DEADLINE)
    assert while_open is not None and (while_open.links, while_open.follows) == (1, 1)


def test_a_feed_that_falls_behind_overflows_and_stops_following(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-slow")

    async def story() -> Feed:
        feed = Feed(partial(shared_runtime.follow, "ws-slow"), limit=2)
        await feed.start()
        await asyncio.to_thread(lambda: shared_runtime.send("ws-slow", "a b c d e f").result())
        await asyncio.wait_for(feed.overflowed.wait(), DEADLINE)
        await feed.stop()
        return feed

    feed = asyncio.run(story())

    assert feed.items.qsize() == 2
    wait_until(lambda: followers(shared_runtime, "dm:ws-slow") is None, "the unfollow", DEADLINE)


# --- rooms ---------------------------------------------------------------------------------------


def test_a_room_hears_a_say_frame_and_the_agent_replies(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-room-agent")
    shared_runtime.create_room("ws-room", agents=["ws-room-agent"])

    with connect(ws_url(api, "room:ws-room", "as=user")) as ws:
        ready(ws)
        ws.send(json.dumps({"type": "say", "content": "hello room"}))
        frames = frames_until(ws, reply_from("ws-room-agent"), "the agent's reply")

    said = [f for f in frames if f["type"] == "message" and f["message"]["sender"] == "user"]
    assert said[0]["message"]["content"] == "hello room"
    assert said[0]["message"]["conversation"] == "room:ws-room"
    assert "started" in [f["type"] for f in frames]
    assert "hello room" in frames[-1]["message"]["content"]


def test_clients_of_one_room_share_one_gateway_feed(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-shared-agent")
    shared_runtime.create_room("ws-shared", agents=["ws-shared-agent"])
    url = ws_url(api, "room:ws-shared")

    with connect(url) as first, connect(url) as second, connect(url) as third:
        clients = [first, second, third]
        for ws in clients:
            ready(ws)
        feed = followers(shared_runtime, "room:ws-shared")
        over_rest = api.get("/v1/gateway").json()
        first.send(json.dumps({"type": "say", "content": "one for all"}))
        heard = [frames_until(ws, reply_from("ws-shared-agent"), "the reply") for ws in clients]

    assert feed is not None and (feed.links, feed.follows) == (1, 3)
    assert over_rest["links"] == 1 and feed.model_dump(mode="json") in over_rest["feeds"]
    assert all(contents(frames) == contents(heard[0]) for frames in heard)
    assert contents(heard[0])[0] == "one for all"


def test_a_killed_gateway_is_restarted_and_clients_resume(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-gateway")
    old = shared_runtime.gateway().pid

    with connect(ws_url(api, "dm:ws-gateway")) as ws:
        ready(ws)
        ws.send(json.dumps({"type": "say", "content": "before"}))
        cursor = frames_until(ws, reply_from("ws-gateway"), "the first reply")[-1]["cursor"]
        os.kill(old, signal.SIGKILL)
        code = close_code(ws)
    shared_runtime.send("ws-gateway", "while away").result()
    new = wait_until(lambda: shared_runtime.gateway().pid != old, "a new gateway", DEADLINE)
    with connect(ws_url(api, "dm:ws-gateway", f"after={cursor}")) as ws:
        replayed = frames_until(ws, lambda f: f["type"] == "ready", "ready")
        ws.send(json.dumps({"type": "say", "content": "after"}))
        live = frames_until(ws, reply_from("ws-gateway"), "the reply after")

    assert code == 1012 and new
    assert contents(replayed) == ["while away", "You said: while away"]
    assert contents(live) == ["after", "You said: after"]
    restarted = [e for e in shared_runtime.events() if e.event == "gateway_restarted"]
    assert len(restarted) == 1


# --- refusals ------------------------------------------------------------------------------------


def test_a_token_is_required_when_the_app_has_one(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-auth")
    app = create_app(shared_runtime, shared_runtime.settings, token="s3cret")
    with serving(app) as secured:
        url = ws_url(secured, "dm:ws-auth")
        with connect(url) as ws:
            refused = frames_until(ws, lambda f: f["type"] == "error", "the refusal")[-1]
            missing = close_code(ws)
        with connect(url, additional_headers={"Authorization": "Bearer guess"}) as ws:
            wrong = close_code(ws)
        with connect(url, additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            by_header = ready(ws)
        with connect(ws_url(secured, "dm:ws-auth", "token=s3cret")) as ws:
            by_query = ready(ws)

    assert refused["problem"]["status"] == 401 and "s3cret" not in json.dumps(refused)
    assert missing == wrong == 4401
    assert by_header["type"] == by_query["type"] == "ready"


def test_say_frames_and_handshakes_over_the_rate_limit_are_refused(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-rate")
    settings = shared_runtime.settings.model_copy(update={"rate_limit_per_minute": 3})
    with serving(create_app(shared_runtime, settings, token=None)) as limited:
        url = ws_url(limited, "dm:ws-rate")
        with connect(url) as ws:  # the handshake is request 1
            ready(ws)
            for n in (2, 3, 4):
                ws.send(json.dumps({"type": "say", "content": f"say {n}"}))
            refused = frames_until(ws, lambda f: f["type"] == "error", "the refusal")[-1]
            ws.send(json.dumps({"type": "ping"}))
            still_open = frames_until(ws, lambda f: f["type"] == "pong", "a pong")[-1]
        with connect(url) as ws:
            handshake = frames_until(ws, lambda f: f["type"] == "error", "the refusal")[-1]
            code = close_code(ws)

    assert refused["problem"]["status"] == 429 and still_open["type"] == "pong"
    assert handshake["problem"]["status"] == 429 and code == 4429


def test_an_unknown_conversation_or_message_closes_with_4404(api: httpx2.Client) -> None:
    spawn(api, "ws-known")
    codes = {}
    for conversation, query in [
        ("dm:nobody-here", ""),
        ("room:no-such-room", ""),
        ("neither", ""),
        ("dm:ws-known", "after=no-such-message"),
    ]:
        with connect(ws_url(api, conversation, query)) as ws:
            error = frames_until(ws, lambda f: f["type"] == "error", "the refusal")[-1]
            codes[conversation] = (error["problem"]["status"], close_code(ws))

    assert set(codes.values()) == {(404, 4404)}


def test_history_resumes_after_a_message_id_and_refuses_a_foreign_one(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "ws-after")
    spawn(api, "ws-other")
    shared_runtime.send("ws-after", "one").result()
    shared_runtime.send("ws-after", "two").result()
    first = shared_runtime.history("ws-after")[0]
    foreign = shared_runtime.send("ws-other", "elsewhere").result().message

    page = shared_runtime.history_page("ws-after", after_id=first.id)
    with pytest.raises(OrchestrationError) as refused:
        shared_runtime.history_page("ws-after", after_id=foreign.id)

    assert [m.content for m in page.messages] == ["You said: one", "two", "You said: two"]
    assert refused.value.code == "unknown_message" and "ws-after" in str(refused.value)
