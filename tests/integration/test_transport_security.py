"""The actor transport under attack: a local process that sends a pickle to any of the daemon's
sockets runs nothing, is refused and logged, and the daemon keeps answering. What the daemon
writes is private to its user."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import os
import pickle
import socket
import stat
from pathlib import Path

import pytest
import thespian

from orchestration import admin_hooks, transport
from orchestration.daemon.record import DaemonRecord
from orchestration.frames import REFUSAL_FRAME, VERSION_HEADER
from orchestration.private_files import loose_permissions
from orchestration.processes.pids import descendants
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from tests.conftest import stop_everything
from tests.support import kill_and_await_restart, listening_ports, wait_until

SOURCES = ("127.0.0.1", "127.0.0.2")  # any loopback address reaches a loopback listener
REPLY_DEADLINE = 5.0


class Exploit:
    """The attack's payload: unpickling it runs ``touch MARKER``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def frame(payload: bytes, cookie: bytes | None = None) -> bytes:
    """Thespian's framing of ``payload``, signed with ``cookie`` if one is given."""
    if cookie is None:
        body = payload
    else:
        body = VERSION_HEADER + hmac.digest(cookie, payload, hashlib.sha256) + payload
    return b"%d>" % len(body) + body


def send_raw(port: int, data: bytes, source: str = "127.0.0.1") -> bytes:
    """Connect from ``source``, send ``data``; everything the peer sends until it closes."""
    return read_to_close(connected_and_sent(port, data, source))


def connected_and_sent(port: int, data: bytes, source: str = "127.0.0.2") -> socket.socket:
    connection = socket.socket()
    connection.bind((source, 0))
    connection.settimeout(REPLY_DEADLINE)
    connection.connect(("127.0.0.1", port))
    connection.sendall(data)
    return connection


def read_to_close(connection: socket.socket) -> bytes:
    """What the peer sends until it closes the connection (within the deadline)."""
    with connection:
        received = b""
        while chunk := connection.recv(4096):
            received += chunk
        return received


def daemon_log(runtime: Runtime) -> str:
    return (runtime.settings.log_dir / "daemon.log").read_text()


@pytest.fixture
def target(runtime: Runtime) -> dict[str, int]:
    """The ports an attacker would try, found from the processes' PIDs: the admin's, an
    agent's and its DM router's."""
    runtime.spawn("a1", provider="scripted")
    record = DaemonRecord.read(runtime.settings)
    assert record is not None
    resolved = runtime.resolve("a1")
    agent_port = resolved.agent_address.addressDetails.sockname[1]
    router_port = resolved.router.addressDetails.sockname[1]
    assert resolved.agent.pid is not None
    assert agent_port in listening_ports({resolved.agent.pid})
    assert router_port not in listening_ports({resolved.agent.pid}), "the router is elsewhere"
    daemon = {record.pid, *(p.pid for p in descendants(record.pid))}
    assert router_port in listening_ports(daemon)
    return {"admin": record.port, "agent": agent_port, "router": router_port}


def test_a_pickle_sent_to_any_actor_socket_runs_nothing_and_is_refused_and_logged(
    runtime: Runtime, target: dict[str, int], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    attack = frame(pickle.dumps((None, Exploit(marker))))

    replies = {
        (name, source): send_raw(port, attack, source)
        for name, port in target.items()
        for source in SOURCES
    }

    assert not marker.exists()
    assert set(replies.values()) == {REFUSAL_FRAME}, "each connection: the notice, then closed"
    assert runtime.send("a1", "still there?").result().message.content == "You said: still there?"
    log = wait_until(
        lambda: (text := daemon_log(runtime)).count("refused a frame") >= 6 and text,
        "a log line per port and source",
    )
    for port in target.values():
        for source in SOURCES:
            assert f"refused a frame from {source}:" in log
            assert f"on port {port}: bad signature" in log
    assert "touch" not in log and str(marker) not in log, "the frame's content is never logged"


def test_a_client_process_refuses_such_a_frame_too(runtime: Runtime, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    attack = frame(pickle.dumps((None, Exploit(marker))))
    before = listening_ports({os.getpid()})
    with runtime.watch(timeout=20) as events:  # a client endpoint, reading while it listens
        ports = listening_ports({os.getpid()}) - before
        assert ports, "the subscription listens on a port of this process"
        sent = [connected_and_sent(port, attack) for port in ports]
        runtime.spawn("a2", provider="scripted")
        for event in events:  # the endpoint reads its socket meanwhile
            if event.event == "agent_started" and event.data["agent"] == "a2":
                break
    answered = {read_to_close(connection) for connection in sent}

    assert not marker.exists()
    assert answered == {REFUSAL_FRAME}
    log = daemon_log(runtime)
    assert any(f"on port {port}: bad signature" in log for port in ports), "this client logs it"


def test_refusals_from_one_peer_are_logged_once_a_minute(
    runtime: Runtime, target: dict[str, int], tmp_path: Path
) -> None:
    attack = frame(pickle.dumps((None, Exploit(tmp_path / "marker"))))

    for _ in range(5):
        assert send_raw(target["admin"], attack, "127.0.0.2") == REFUSAL_FRAME

    log = daemon_log(runtime)
    assert log.count("refused a frame from 127.0.0.2:") == 1


def test_a_signed_frame_naming_a_forbidden_global_is_refused_by_the_restricted_unpickler(
    runtime: Runtime, target: dict[str, int], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    cookie = runtime.settings.cookie_path.read_bytes().strip()
    signed = frame(pickle.dumps((None, Exploit(marker))), cookie)

    assert send_raw(target["agent"], signed) == REFUSAL_FRAME

    assert not marker.exists()
    wait_until(lambda: "refused global posix.system" in daemon_log(runtime), "the refusal")
    assert runtime.send("a1", "fine").result().message.content == "You said: fine"


def test_an_oversized_length_prefix_closes_the_connection_at_once(
    runtime: Runtime, target: dict[str, int]
) -> None:
    limit = runtime.settings.max_frame_bytes
    for port in target.values():
        # Thespian alone would wait (up to 7 minutes) for the rest of the claimed bytes.
        assert send_raw(port, b"%d>" % (limit + 1)) == REFUSAL_FRAME
        assert send_raw(port, b"9" * 40) == REFUSAL_FRAME
    wait_until(lambda: "byte limit" in daemon_log(runtime), "the refusal logged")
    assert runtime.send("a1", "fine").result().message.content == "You said: fine"


def test_the_data_dir_and_everything_the_daemon_writes_are_private(
    runtime: Runtime, tmp_path: Path
) -> None:
    user_umask = os.umask(0o077)  # what the daemon was started with: this process's
    os.umask(user_umask)
    runtime.spawn(
        "tool",
        provider="command",
        model="lines",
        command=("sh", "-c", "touch made-by-the-program; exec cat"),
        cwd=str(tmp_path),
    )
    runtime.spawn("talker", provider="scripted")
    runtime.send("talker", "hello").result()
    made = wait_until(
        lambda: (tmp_path / "made-by-the-program").exists() and tmp_path / "made-by-the-program",
        "the program's file",
    )

    home = runtime.settings.home
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    names = {p.name for p in home.rglob("*")}
    assert {"cookie", "daemon.json", "journal.db", "journal.db-wal", "daemon.log"} <= names
    assert "tool.json" in names, "the program's PID file"
    assert loose_permissions(home) == []
    assert stat.S_IMODE(made.stat().st_mode) == 0o666 & ~user_umask, "programs get it back"


def test_thespian_is_the_version_whose_internals_our_patches_were_checked_against() -> None:
    installed = importlib.metadata.version("thespian")
    assert installed == transport.CHECKED_THESPIAN, (
        f"thespian {installed} is installed; orchestration/transport.py was checked against "
        f"{transport.CHECKED_THESPIAN}: re-check every internal it lists, then update it"
    )
    package = Path(thespian.__file__).parent
    checked = {**transport.CHECKED_FILES, **admin_hooks.CHECKED_FILES}
    for relative, expected in checked.items():
        digest = hashlib.sha256((package / relative).read_bytes()).hexdigest()
        assert digest.startswith(expected), f"thespian/{relative} changed: re-check the patch"


def test_a_conversation_longer_than_a_frame_still_pages_and_resumes_after_a_crash(
    orch_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_MAX_FRAME_BYTES", str(1024 * 1024))  # the smallest allowed
    settings = Settings()
    words = [f"{index}" * 90_000 for index in range(8)]  # 8 turns of 180 kB: 1.4 MB in all
    try:
        with Runtime.connect(settings) as runtime:
            runtime.spawn("long", provider="scripted")
            for word in words:
                runtime.send("long", word).result()
            first = runtime.history_page("long", limit=1000)
            pages = [first]
            while pages[-1].more:
                pages.append(runtime.history_page("long", after_seq=pages[-1].last_seq))
            kill_and_await_restart(runtime, "long")
            after = runtime.send("long", "and now?").result()
    finally:
        stop_everything(settings)

    assert first.more and len(first.messages) < 16, "the first page was cut to fit a frame"
    assert [m.content for page in pages for m in page.messages][::2] == words
    assert after.message.content == "You said: and now?", "resumed with the newest it heard"
