"""The gateway actor's backpressure, on a daemon whose gateway has a small window and a short
link timeout: a link that stops reading is cut off, and the others keep receiving."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from orchestration.gateway.actor import CREDITS
from orchestration.gateway.link import LinkLost
from orchestration.messages import (
    Follow,
    GatewayAddress,
    LinkDropped,
    LinkItems,
    LinkOpened,
    LocateGateway,
    OpenLink,
    Subscribed,
    TurnFinished,
)
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError
from tests.interfaces.conftest import added_env
from tests.support import wait_until

WINDOW = 20
LINK_TIMEOUT = 5.0
DEADLINE = 20.0
LONG_REPLY = "[[scripted: delay=0.01]] " + " ".join(f"w{n}" for n in range(150))
"""An echo streamed for 1.5 s: far more messages than the window."""


@pytest.fixture(scope="module")
def shared_env(shared_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The shared daemon's environment with a small gateway window and link timeout."""
    tight = {"ORCH_GATEWAY_WINDOW": str(WINDOW), "ORCH_GATEWAY_LINK_TIMEOUT": str(LINK_TIMEOUT)}
    with added_env(shared_env, tight) as env:
        yield env


@contextmanager
def raw_link(runtime: Runtime) -> Iterator[tuple[Any, Any, str]]:
    """A link opened by hand that neither reads nor acknowledges until the test listens:
    (endpoint, gateway, link id)."""
    with runtime._asys.private() as endpoint:
        located = endpoint.ask(runtime._root, LocateGateway(), 10)
        assert isinstance(located, GatewayAddress)
        opened = endpoint.ask(located.address, OpenLink(), 10)
        assert isinstance(opened, LinkOpened) and opened.window == WINDOW
        yield endpoint, located.address, opened.link


def follow_raw(endpoint: Any, gateway: Any, link: str, runtime: Runtime, agent: str) -> None:
    source = runtime.resolve(agent).router
    request = Follow(link=link, conversation=f"dm:{agent}", source=source)
    assert isinstance(endpoint.ask(gateway, request, 10), Subscribed)


def until_dropped(endpoint: Any) -> tuple[int, LinkDropped]:
    """Listen until the gateway drops the link: (deliveries received before, the drop)."""
    received = 0
    while (message := endpoint.listen(DEADLINE)) is not None:
        if isinstance(message, LinkDropped):
            return received, message
        received += isinstance(message, LinkItems)
    pytest.fail(f"the link was not dropped within {DEADLINE:g} s ({received} deliveries)")


def test_a_link_that_stops_reading_is_cut_off_and_others_keep_receiving(
    shared_runtime: Runtime,
) -> None:
    shared_runtime.spawn("gw-busy", provider="scripted", model="echo")
    finished: list[TurnFinished] = []
    ended: list[Exception] = []
    done = threading.Event()

    def deliver(item: Any) -> None:
        if isinstance(item, TurnFinished):
            finished.append(item)
            done.set()

    follower = shared_runtime.follow("gw-busy", deliver, ended.append)
    try:
        with raw_link(shared_runtime) as (endpoint, gateway, link):
            follow_raw(endpoint, gateway, link, shared_runtime, "gw-busy")
            reply = shared_runtime.send("gw-busy", LONG_REPLY).result()
            received, dropped = until_dropped(endpoint)
            assert done.wait(DEADLINE), ended
            report = shared_runtime.gateway()
    finally:
        follower.close()

    assert "too slow" in dropped.reason and dropped.link == link
    assert received == CREDITS  # deliveries in flight at most; the rest waited, then went
    assert [f.message.content for f in finished] == [reply.message.content]
    assert not ended
    assert report.dropped >= 1
    assert [(f.links, f.follows) for f in report.feeds if f.conversation == "dm:gw-busy"] == [
        (1, 1)
    ]


def test_a_silent_link_is_cut_off_and_told_why(shared_runtime: Runtime) -> None:
    shared_runtime.spawn("gw-idle", provider="scripted", model="echo")

    with raw_link(shared_runtime) as (endpoint, gateway, link):
        follow_raw(endpoint, gateway, link, shared_runtime, "gw-idle")
        _, dropped = until_dropped(endpoint)
        refused = endpoint.ask(gateway, Follow(link=link, conversation=None, source=None), 10)

    assert "silent" in dropped.reason
    assert isinstance(refused, LinkDropped) and "does not know" in refused.reason
    wait_until(
        lambda: all(f.conversation != "dm:gw-idle" for f in shared_runtime.gateway().feeds),
        "the silent link's feed released",
    )


def test_a_follower_hears_why_its_link_ended_and_a_new_link_opens(
    shared_runtime: Runtime,
) -> None:
    """A link whose gateway stops answering ends every follower with `LinkLost`; the next
    follow opens a link to the new gateway."""
    shared_runtime.spawn("gw-lost", provider="scripted", model="echo")
    ended: list[Exception] = []
    gone = threading.Event()

    def end(error: Exception) -> None:
        ended.append(error)
        gone.set()

    follower = shared_runtime.follow("gw-lost", lambda item: None, end)
    pid = shared_runtime.gateway().pid
    os.kill(pid, 9)
    try:
        assert gone.wait(DEADLINE)
    finally:
        follower.close()
    wait_until(lambda: shared_runtime.gateway().pid != pid, "the new gateway")
    finished = threading.Event()

    def deliver(item: Any) -> None:
        if isinstance(item, TurnFinished):
            finished.set()

    again = shared_runtime.follow("gw-lost", deliver, end)
    try:
        shared_runtime.send("gw-lost", "still there?").result()
        assert finished.wait(DEADLINE)
    finally:
        again.close()

    assert len(ended) == 1
    assert isinstance(ended[0], LinkLost) and "stopped answering" in str(ended[0])


def test_a_refused_follow_leaves_the_other_clients_follows_alone(shared_runtime: Runtime) -> None:
    shared_runtime.spawn("gw-kept", provider="scripted", model="echo")
    kept = shared_runtime.follow("gw-kept", lambda item: None, lambda error: None)
    root = shared_runtime._root
    try:
        with pytest.raises(OrchestrationError) as refused:
            shared_runtime.link().follow([(root, "room:no-such-room"), (root, None)], print, print)
        feeds = {f.conversation: f.follows for f in shared_runtime.gateway().feeds}
    finally:
        kept.close()

    assert refused.value.code == "unknown_room"
    assert feeds[None] == 1 and feeds["dm:gw-kept"] == 1
    assert "room:no-such-room" not in feeds
