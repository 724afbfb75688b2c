"""Authenticated frames: signed bodies, bounded length prefixes, restricted unpickling, one
protocol version per frame, and how often refusals are reported."""

from __future__ import annotations

import os
import pickle
import socket
import threading
from datetime import UTC, datetime

import pytest

from orchestration.errors import DaemonError
from orchestration.frames import (
    PROTOCOL_VERSION,
    REFUSAL_FRAME,
    TAG_BYTES,
    VERSION_HEADER,
    VERSION_MARK,
    FrameCodec,
    FrameRefused,
    FrameTooLarge,
    PeerProtocolMismatch,
    PeerRefused,
    ProtocolMismatch,
    RefusalLog,
)
from orchestration.messages import AgentSpec, Envelope, TurnFinished, Usage

KEY = b"k" * 32
REFUSED = "REFUSED"  # what a refused buffer yields in place of a message


class Exploit:
    """Unpickling this would run a command: what the attack sends."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /nonexistent/marker",))


def codec(max_bytes: int = 1_000_000, key: bytes = KEY) -> FrameCodec:
    return FrameCodec(key, max_bytes)


def read(frame: bytes, reader: FrameCodec | None = None, chunk: int = 7) -> object:
    """Feed ``frame`` to a buffer in small pieces, as a socket would; the message read."""
    buffer = (reader or codec()).buffer(on_refusal=REFUSED)
    for start in range(0, len(frame), chunk):
        buffer.addMore(frame[start : start + chunk])
        if buffer.isDone():
            break
    done = buffer.completed()
    assert done is not None, "the buffer never completed"
    return done[0]


def signed_pickle(payload: bytes, key: bytes = KEY) -> bytes:
    """A frame whose pickle is ``payload``, correctly signed with ``key``."""
    import hashlib
    import hmac

    body = VERSION_HEADER + hmac.digest(key, payload, hashlib.sha256) + payload
    return b"%d>" % len(body) + body


def header(version: int) -> bytes:
    """The header a peer of protocol ``version`` puts before its frames' tags."""
    return VERSION_MARK + version.to_bytes(2, "big")


def test_a_message_goes_through_signed_and_comes_back_equal() -> None:
    message = TurnFinished(
        turn_id="t1",
        agent="a",
        message=Envelope(conversation="dm:a", sender="a", content="hi"),
        usage=Usage(input_tokens=1, output_tokens=2),
    )

    assert read(codec().frame(message)) == message


def test_the_pieces_of_thespian_addresses_and_system_messages_pass() -> None:
    from thespian.actors import ActorExitRequest, ChildActorExited
    from thespian.system.transport.IPBase import TCPv4ActorAddress

    address = TCPv4ActorAddress("127.0.0.1", 1234, external=True)
    message = (address, ChildActorExited(None), ActorExitRequest(), datetime.now(UTC))

    got = read(codec().frame(message))

    assert isinstance(got, tuple) and isinstance(got[1], ChildActorExited)
    assert got[3] == message[3]


def test_a_frame_signed_with_another_cookie_is_refused() -> None:
    frame = codec(key=b"another cookie, another install").frame(
        AgentSpec(name="a", provider="scripted", model="echo")
    )

    buffer = codec().buffer(on_refusal=REFUSED)
    buffer.addMore(frame)

    assert buffer.isDone() and buffer.completed() == (REFUSED, b"")
    assert "bad signature" in str(buffer.refusal)


def test_an_unsigned_pickle_never_reaches_the_unpickler() -> None:
    payload = pickle.dumps((None, Exploit()))
    frame = b"%d>" % len(payload) + payload

    assert read(frame) == REFUSED


def test_a_flipped_bit_in_a_signed_frame_is_refused() -> None:
    frame = bytearray(codec().frame("hello"))
    frame[-3] ^= 0x01

    assert read(bytes(frame)) == REFUSED


def test_a_correctly_signed_frame_naming_a_forbidden_global_is_refused_by_name() -> None:
    buffer = codec().buffer(on_refusal=REFUSED)
    buffer.addMore(signed_pickle(pickle.dumps((None, Exploit()))))

    assert buffer.completed() == (REFUSED, b"")
    assert isinstance(buffer.refusal, FrameRefused)
    assert "refused global posix.system" in str(buffer.refusal)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("orchestration.processes.pids", "os.system"),  # reached through a module of ours
        ("orchestration.processes.pids", "kill_pid"),  # a function of ours, not a message class
        ("orchestration.actors.programs.session", "ProcessSession"),  # starts a program
        ("thespian.runcommand", "RunCommand"),
        ("orchestration.__main__", "anything"),
    ],
)
def test_globals_outside_the_allow_list_are_refused(module: str, name: str) -> None:
    payload = b"c%s\n%s\n." % (module.encode(), name.encode())  # GLOBAL, then STOP
    buffer = codec().buffer(on_refusal=REFUSED)
    buffer.addMore(signed_pickle(payload))

    assert buffer.completed() == (REFUSED, b"")
    assert f"refused global {module}.{name}" in str(buffer.refusal)


@pytest.mark.parametrize("header", [b"1000001>", b"99999999999>", b"99999999999"])
def test_an_oversized_length_prefix_is_refused_before_anything_is_buffered(header: bytes) -> None:
    buffer = codec(max_bytes=1_000_000).buffer(on_refusal=REFUSED)

    buffer.addMore(header)

    assert buffer.isDone() and buffer.completed() == (REFUSED, b"")
    assert "over the 1,000,000 byte limit" in str(buffer.refusal)
    buffer.addMore(b"x" * 100_000)  # what follows is dropped, not kept
    assert buffer.remainingAmount() == 0


@pytest.mark.parametrize("header", [b"-5>", b" 12>", b"1_0>", b"0x10>", b">", b"1" * 30])
def test_a_length_prefix_that_is_not_plain_digits_is_refused(header: bytes) -> None:
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(header)

    assert buffer.refusal is not None


def test_a_frame_over_the_limit_is_refused_at_the_sender_with_the_fix() -> None:
    with pytest.raises(FrameTooLarge, match="ORCH_MAX_FRAME_BYTES"):
        codec(max_bytes=2048).dumps("x" * 4096)


def test_the_refusal_notice_tells_a_sender_its_frame_was_dropped() -> None:
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(REFUSAL_FRAME)

    assert isinstance(buffer.refusal, PeerRefused)
    assert buffer.completed() == (REFUSED, b"")


def test_bytes_after_a_frame_are_kept_for_the_next_one() -> None:
    first, second = codec().frame("one"), codec().frame("two")
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(first + second[:5])

    assert buffer.completed() == ("one", second[:5])


def test_a_signed_body_is_the_version_then_the_tag_then_the_pickle() -> None:
    body = codec().dumps("hi")

    assert body[: len(VERSION_HEADER)] == header(PROTOCOL_VERSION)
    assert body[len(VERSION_HEADER) + TAG_BYTES :] == pickle.dumps("hi")
    assert codec().loads(body) == "hi"


def test_a_frame_from_a_peer_of_another_protocol_version_is_refused_naming_both() -> None:
    body = header(PROTOCOL_VERSION + 1) + codec().dumps("hi")[len(VERSION_HEADER) :]
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(b"%d>" % len(body) + body)

    assert buffer.completed() == (REFUSED, b"")
    assert isinstance(buffer.refusal, ProtocolMismatch)
    assert not isinstance(buffer.refusal, PeerRefused)
    assert (
        f"protocol version {PROTOCOL_VERSION + 1} and this process version {PROTOCOL_VERSION}"
        in (str(buffer.refusal))
    )
    assert "`orchestration down`" in str(buffer.refusal)


@pytest.mark.parametrize(
    ("notice", "theirs"),
    [
        (b"4>" + header(PROTOCOL_VERSION + 1), PROTOCOL_VERSION + 1),
        (b"0>", 1),  # the empty notice of the peers before frames carried the version
    ],
)
def test_the_refusal_notice_of_another_version_tells_the_sender_both(
    notice: bytes, theirs: int
) -> None:
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(notice)

    assert isinstance(buffer.refusal, PeerProtocolMismatch)
    assert buffer.refusal.theirs == theirs
    assert f"version {theirs} and this process version {PROTOCOL_VERSION}" in str(buffer.refusal)


def test_our_own_refusal_notice_carries_our_version_and_means_another_cookie() -> None:
    buffer = codec().buffer(on_refusal=REFUSED)

    buffer.addMore(REFUSAL_FRAME)

    assert type(buffer.refusal) is PeerRefused and "cookie" in str(buffer.refusal)


def test_a_client_probing_a_daemon_of_another_version_gets_both_versions_and_the_fix() -> None:
    from orchestration.transport import probe_cookie

    listener = socket.create_server(("127.0.0.1", 0))
    notice = b"4>" + header(PROTOCOL_VERSION + 1)

    def refuse() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(notice)

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    with listener, pytest.raises(DaemonError) as raised:
        probe_cookie(listener.getsockname()[1], KEY, 1_000_000)
    thread.join(5)

    assert (
        f"protocol version {PROTOCOL_VERSION + 1} and this client version {PROTOCOL_VERSION}"
        in (str(raised.value))
    )
    assert "`orchestration down`" in raised.value.hint and "`orchestration up`" in raised.value.hint


def test_refusals_are_reported_once_per_peer_per_period_with_the_count_in_between() -> None:
    now = [0.0]
    log = RefusalLog(period=60.0, clock=lambda: now[0])

    assert log.report("127.0.0.2") == 0
    assert log.report("127.0.0.2") is None
    assert log.report("127.0.0.3") == 0  # another peer has its own minute
    now[0] = 59.9
    assert log.report("127.0.0.2") is None
    now[0] = 60.0
    assert log.report("127.0.0.2") == 2  # two went unreported since the first


def test_the_refusal_log_forgets_the_oldest_peers_beyond_its_size() -> None:
    log = RefusalLog(period=60.0, clock=lambda: 0.0, max_peers=2)
    for peer in ("a", "b", "c"):
        log.report(peer)

    assert log.report("a") == 0  # forgotten, so reported again
    assert log.report("c") is None
