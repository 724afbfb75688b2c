"""``orchestration serve`` as a real process: it starts the daemon when none runs, stops
cleanly on SIGTERM, and a kill -9 of it loses nothing and leaves the tree running."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from orchestration.runtime import Runtime
from tests.conftest import free_port
from tests.e2e.conftest import Cli, Session
from tests.support import wait_until

DEADLINE = 30.0


@contextmanager
def server(cli: Cli, *args: str) -> Iterator[tuple[Session, httpx2.Client]]:
    """``serve`` on a free port, answering ``/healthz``, and a client on it."""
    port = free_port()
    session = cli.session("serve", "--port", str(port), *args)
    base = f"http://127.0.0.1:{port}"
    with httpx2.Client(base_url=base, timeout=30) as client:

        def healthy() -> bool:
            assert session.process.poll() is None, session.stderr
            try:
                return client.get("/healthz").status_code == 200
            except httpx2.TransportError:
                return False

        wait_until(healthy, "the server answering /healthz", DEADLINE)
        yield session, client


def test_serve_starts_the_daemon_and_stops_on_sigterm_leaving_the_tree(cli: Cli) -> None:
    with server(cli) as (session, api):
        made = api.post("/v1/agents", json={"name": "kept", "provider": "scripted"})
        reply = api.post("/v1/agents/kept/messages", json={"content": "hello"})
        os.kill(session.pid, signal.SIGTERM)
        code = session.process.wait(DEADLINE)

    assert made.status_code == 201 and reply.json()["message"]["content"] == "You said: hello"
    assert code == 0
    assert "REST API on http://127.0.0.1:" in session.stdout
    listed = cli("list", "--json")
    assert listed.code == 0 and [a["name"] for a in listed.json()] == ["kept"]


def test_a_killed_server_loses_nothing_and_the_gateway_lets_its_link_go(cli: Cli) -> None:
    cli.env["ORCH_GATEWAY_LINK_TIMEOUT"] = "2"  # the daemon that serve starts reads it
    with server(cli) as (session, api):
        api.post("/v1/agents", json={"name": "survivor", "provider": "scripted"})
        url = str(api.base_url).replace("http://", "ws://") + "/v1/ws/conversations/dm:survivor"
        with connect(url) as ws:
            assert json.loads(ws.recv(timeout=DEADLINE))["type"] == "ready"
            ws.send(json.dumps({"type": "say", "content": "remember this"}))
            while json.loads(ws.recv(timeout=DEADLINE))["type"] != "finished":
                pass
            with Runtime.connect(cli.settings, start=False) as runtime:
                links_while_serving = runtime.gateway().links
                os.kill(session.pid, signal.SIGKILL)
                with pytest.raises(ConnectionClosed):
                    while True:  # the frames still on the way, then the close
                        ws.recv(timeout=DEADLINE)
                wait_until(lambda: runtime.gateway().links == 0, "the dead link dropped")
                history = [m.content for m in runtime.history("survivor")]
                after = runtime.send("survivor", "still running").result()

    assert links_while_serving == 1
    assert history == ["remember this", "You said: remember this"]
    assert after.message.content == "You said: still running"


def test_serve_off_loopback_prints_a_token_once_and_requires_it(cli: Cli) -> None:
    with server(cli, "--host", "0.0.0.0") as (session, api):
        shown = session.wait_stderr("API token (shown once): ")
        token = shown.split("API token (shown once): ", 1)[1].split()[0]
        anonymous = api.get("/v1/agents")
        wrong = api.get("/v1/agents", headers={"Authorization": "Bearer nope"})
        right = api.get("/v1/agents", headers={"Authorization": f"Bearer {token}"})
        url = str(api.base_url).replace("http://", "ws://") + "/v1/ws/conversations/dm:x"
        with connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=DEADLINE)
        session.kill()

    assert anonymous.status_code == wrong.status_code == 401
    assert right.status_code == 200
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert session.stderr.count(token) == 1 and token not in session.stdout
    assert len(token) >= 32


def test_serve_require_token_asks_for_the_token_kept_in_the_data_dir_on_loopback(
    cli: Cli,
) -> None:
    with server(cli, "--require-token") as (session, api):
        kept = cli.home / "api-token"
        session.wait_stderr(f"API token required; it is in {kept}")
        token = kept.read_text()  # what a local tool does
        anonymous = api.get("/v1/agents")
        right = api.get("/v1/agents", headers={"Authorization": f"Bearer {token}"})
        session.kill()

    assert anonymous.status_code == 401 and right.status_code == 200
    assert (kept.stat().st_mode & 0o777) == 0o600
    assert token not in session.stderr and token not in session.stdout, "never printed"
