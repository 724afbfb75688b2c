"""The event channel between an actor and its provider worker threads."""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator

import pytest

from orchestration.actors.pump import EventChannel, PumpFailure
from orchestration.providers.base import RateLimitError, StreamEnd, StreamEvent, TextDelta


def wait_readable(channel: EventChannel, timeout: float = 5.0) -> None:
    ready, _, _ = select.select([channel.fileno()], [], [], timeout)
    assert ready, "the channel never became readable"


def drain_until_end(channel: EventChannel) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    while not events or not isinstance(events[-1][1], StreamEnd | PumpFailure):
        wait_readable(channel)
        events.extend(channel.drain())
    return events


@pytest.fixture
def channel() -> Iterator[EventChannel]:
    channel = EventChannel()
    yield channel
    channel.close()


def test_a_worker_streams_tagged_events_in_order(channel: EventChannel) -> None:
    def produce() -> Iterator[StreamEvent]:
        yield TextDelta(text="a")
        yield TextDelta(text="b")
        yield StreamEnd(text="ab")

    channel.start("turn-1", produce)
    events = drain_until_end(channel)

    assert events == [
        ("turn-1", TextDelta(text="a")),
        ("turn-1", TextDelta(text="b")),
        ("turn-1", StreamEnd(text="ab")),
    ]


def test_a_provider_error_reaches_the_actor_as_a_failure(channel: EventChannel) -> None:
    def produce() -> Iterator[StreamEvent]:
        raise RateLimitError("slow down")
        yield  # pragma: no cover

    channel.start("t", produce)
    ((turn, failure),) = drain_until_end(channel)

    assert turn == "t" and isinstance(failure, PumpFailure)
    assert isinstance(failure.error, RateLimitError) and failure.error.retryable


def test_an_unpicklable_error_is_summarised_not_lost(channel: EventChannel) -> None:
    class Local(Exception):  # local classes cannot be pickled
        pass

    def produce() -> Iterator[StreamEvent]:
        raise Local("odd")
        yield  # pragma: no cover

    channel.start("t", produce)
    ((_, failure),) = drain_until_end(channel)

    assert isinstance(failure, PumpFailure) and "odd" in str(failure.error)


def test_a_cancelled_worker_writes_nothing_more_and_its_stream_is_closed(
    channel: EventChannel,
) -> None:
    release = threading.Event()
    closed = threading.Event()

    def produce() -> Iterator[StreamEvent]:
        try:
            yield TextDelta(text="first")
            release.wait(5)
            yield TextDelta(text="after cancel")
        finally:
            closed.set()

    worker = channel.start("t", produce)
    wait_readable(channel)
    assert channel.drain() == [("t", TextDelta(text="first"))]

    worker.cancel()
    release.set()

    assert closed.wait(5)
    assert channel.drain() == []


def test_one_descriptor_serves_every_turn(channel: EventChannel) -> None:
    descriptor = channel.fileno()
    for turn in ("one", "two"):
        channel.start(turn, lambda turn=turn: iter([StreamEnd(text=turn)]))
        assert drain_until_end(channel) == [(turn, StreamEnd(text=turn))]
    assert channel.fileno() == descriptor
