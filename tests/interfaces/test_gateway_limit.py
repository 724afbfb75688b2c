"""The root supervises the gateway with its restart window: a gateway that keeps dying is
given up, remote streaming says so clearly, and the rest of the API keeps working."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from orchestration.errors import DaemonError
from orchestration.interfaces.rest import create_app
from orchestration.runtime import Runtime
from orchestration.streams import OrchestrationError
from tests.interfaces.conftest import added_env, serving
from tests.support import wait_until

DEADLINE = 20.0


@pytest.fixture(scope="module")
def shared_env(shared_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The shared daemon's environment with a root window of one restart a minute."""
    window = {"ORCH_RESTART_INTENSITY": "1", "ORCH_RESTART_PERIOD": "60"}
    with added_env(shared_env, window) as env:
        yield env


def gateway_pid(runtime: Runtime) -> int | None:
    """The gateway's PID; None while the root has not yet replaced a dead one."""
    try:
        return runtime.gateway().pid
    except DaemonError:  # asked at the dead gateway's address
        return None


def test_a_gateway_that_keeps_dying_is_given_up_and_streaming_says_why(
    shared_runtime: Runtime,
) -> None:
    shared_runtime.spawn("limit-echo", provider="scripted", model="echo")
    first = shared_runtime.gateway().pid
    os.kill(first, signal.SIGKILL)
    second = wait_until(
        lambda: (pid := gateway_pid(shared_runtime)) not in (first, None) and pid, "a new one"
    )
    os.kill(second, signal.SIGKILL)

    def given_up() -> OrchestrationError | None:
        try:
            shared_runtime.gateway()
        except OrchestrationError as exc:
            return exc
        except DaemonError:  # the dead one's address, before the root heard of its exit
            pass
        return None

    refusal = wait_until(given_up, "the gateway given up", DEADLINE)
    with serving(create_app(shared_runtime, shared_runtime.settings, token=None)) as api:
        problem = api.get("/v1/gateway")
        agents = api.get("/v1/agents")
        url = str(api.base_url).replace("http://", "ws://") + "/v1/ws/conversations/dm:limit-echo"
        with connect(url) as ws:
            frame = json.loads(ws.recv(timeout=DEADLINE))
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=DEADLINE)

    assert refusal.code == "gateway_failed" and "orchestration down" in refusal.hint
    assert problem.status_code == 503 and problem.json()["type"].endswith("/gateway-failed")
    assert agents.status_code == 200 and "limit-echo" in agents.text
    assert frame["type"] == "error" and frame["problem"]["status"] == 503
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    events = [(e.event, e.data.get("agent")) for e in shared_runtime.events()]
    assert events.count(("gateway_restarted", "gateway")) == 1
    assert ("restart_limit_exceeded", "gateway") in events
    assert shared_runtime.send("limit-echo", "still served").result().message.content
