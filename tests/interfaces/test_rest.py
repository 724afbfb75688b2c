"""The REST API over a real uvicorn server and a real HTTP client, on one daemon per module."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from orchestration.interfaces.rest import create_app
from orchestration.interfaces.security import TokenFileError, choose_token, is_loopback
from orchestration.runtime import Runtime
from orchestration.settings import Settings
from tests.interfaces.conftest import serving
from tests.support import wait_until

PROBLEM = "application/problem+json"


def settings_of(runtime: Runtime, **changes: Any) -> Settings:
    return runtime.settings.model_copy(update=changes)


@pytest.fixture(scope="module")
def api(shared_runtime: Runtime) -> Iterator[httpx2.Client]:
    """The API with default settings (loopback, no token, no CORS)."""
    app = create_app(shared_runtime, settings_of(shared_runtime, max_body_bytes=4096), token=None)
    with serving(app) as client:
        yield client


def spawn(api: httpx2.Client, name: str) -> None:
    reply = api.post("/v1/agents", json={"name": name, "provider": "scripted", "model": "echo"})
    assert reply.status_code == 201, reply.text


def assert_problem(reply: httpx2.Response, status: int, kind: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == PROBLEM
    body = reply.json()
    assert body["status"] == status
    assert body["type"] == f"https://orchestration.dev/problems/{kind}"
    assert body["title"] and body["detail"]
    return body


def server_sent_events(reply: httpx2.Response) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a text/event-stream response."""
    events, name = [], ""
    for line in reply.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


# --- agents -------------------------------------------------------------------------------------


def test_an_agent_is_created_listed_shown_and_deleted(api: httpx2.Client) -> None:
    spawn(api, "rest-crud")

    listed = api.get("/v1/agents").json()["agents"]
    shown = api.get("/v1/agents/rest-crud").json()
    again = api.post("/v1/agents", json={"name": "rest-crud", "exist_ok": True})
    deleted = api.delete("/v1/agents/rest-crud")

    assert "rest-crud" in [agent["spec"]["name"] for agent in listed]
    assert shown["spec"]["model"] == "echo"
    assert again.status_code == 200 and again.json()["created"] is False
    assert deleted.status_code == 204
    assert_problem(api.get("/v1/agents/rest-crud"), 404, "unknown-agent")


def test_a_message_gets_the_finished_reply_as_json(api: httpx2.Client) -> None:
    spawn(api, "rest-json")

    reply = api.post("/v1/agents/rest-json/messages", json={"content": "hello there"})

    assert reply.status_code == 200, reply.text
    finished = reply.json()
    assert finished["message"]["content"] == "You said: hello there"
    assert finished["stop_reason"] == "end_turn"
    assert set(finished["usage"]) >= {"input_tokens", "output_tokens"}


def test_an_agent_can_name_its_model_in_the_provider_field(api: httpx2.Client) -> None:
    reply = api.post("/v1/agents", json={"name": "rest-inline", "provider": "scripted:echo"})

    assert reply.status_code == 201, reply.text
    spec = reply.json()["agent"]["spec"]
    assert (spec["provider"], spec["model"]) == ("scripted", "echo")


def test_a_reply_streams_as_server_sent_events(api: httpx2.Client) -> None:
    spawn(api, "rest-sse")
    headers = {"Accept": "text/event-stream"}

    with api.stream(
        "POST", "/v1/agents/rest-sse/messages", json={"content": "one two three"}, headers=headers
    ) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = server_sent_events(reply)

    names = [name for name, _ in events]
    assert names[0] == "started" and names[-1] == "finished"
    assert set(names[1:-1]) == {"delta"}
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == events[-1][1]["message"]["content"] == "You said: one two three"


def test_stream_true_in_the_query_streams_too(api: httpx2.Client) -> None:
    spawn(api, "rest-sse-query")

    with api.stream(
        "POST", "/v1/agents/rest-sse-query/messages?stream=true", json={"content": "hi"}
    ) as reply:
        names = [name for name, _ in server_sent_events(reply)]

    assert names[0] == "started" and names[-1] == "finished"


def test_a_client_that_hangs_up_mid_stream_cancels_the_turn(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    spawn(api, "rest-sse-leave")
    slow = "[[scripted: delay=0.5]] " + " ".join(["word"] * 40)  # 20 s if left to run

    with api.stream(
        "POST", "/v1/agents/rest-sse-leave/messages?stream=true", json={"content": slow}
    ) as reply:
        lines = reply.iter_lines()
        first_delta = next(line for line in lines if line == "event: delta")
    cancelled = wait_until(
        lambda: [
            e
            for e in shared_runtime.history("rest-sse-leave")
            if e.event == "turn_failed" and e.data["kind"] == "cancelled"
        ],
        "the turn cancelled",
        timeout=10,
    )

    assert first_delta and len(cancelled) == 1
    assert shared_runtime.send("rest-sse-leave", "still here?").result().message.content


def test_a_failed_turn_is_a_problem_with_its_kind(api: httpx2.Client) -> None:
    spawn(api, "rest-fails")

    reply = api.post(
        "/v1/agents/rest-fails/messages", json={"content": "[[scripted: fail=auth]] hi"}
    )

    body = assert_problem(reply, 502, "turn-failed")
    assert body["kind"] == "auth" and body["retryable"] is False


def test_history_comes_in_pages(api: httpx2.Client) -> None:
    spawn(api, "rest-pages")
    for word in ("one", "two"):
        api.post("/v1/agents/rest-pages/messages", json={"content": word})

    first = api.get("/v1/agents/rest-pages/history", params={"limit": 3}).json()
    rest = api.get(
        "/v1/agents/rest-pages/history", params={"limit": 3, "after_seq": first["next_after_seq"]}
    ).json()

    contents = [m["content"] for m in first["messages"] + rest["messages"]]
    assert contents == ["one", "You said: one", "two", "You said: two"]
    assert first["has_more"] is True and rest["has_more"] is False


# --- errors ---------------------------------------------------------------------------------------


def test_an_unknown_agent_is_a_404_problem_with_a_hint(api: httpx2.Client) -> None:
    for reply in (
        api.get("/v1/agents/nobody-here"),
        api.post("/v1/agents/nobody-here/messages", json={"content": "hi"}),
        api.get("/v1/agents/nobody-here/history"),
    ):
        body = assert_problem(reply, 404, "unknown-agent")
        assert "nobody-here" in body["detail"] and body["hint"]


def test_bad_requests_are_422_problems_naming_the_field(api: httpx2.Client) -> None:
    malformed = api.post(
        "/v1/agents", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    unknown = api.post("/v1/agents", json={"name": "rest-x", "command": ["sh"]})
    bad_name = api.post("/v1/agents", json={"name": "Not A Name", "provider": "scripted"})

    assert_problem(malformed, 422, "invalid-request")
    fields = assert_problem(unknown, 422, "invalid-request")["errors"]
    assert fields[0]["loc"] == ["body", "command"] and fields[0]["type"] == "extra_forbidden"
    assert_problem(bad_name, 422, "invalid-spec")


def test_an_empty_or_too_long_message_is_a_422_problem(shared_runtime: Runtime) -> None:
    limit = shared_runtime.settings.max_message_chars
    settings = settings_of(shared_runtime, max_body_bytes=2 * limit)
    with serving(create_app(shared_runtime, settings, token=None)) as api:
        spawn(api, "rest-short")
        too_long = api.post("/v1/agents/rest-short/messages", json={"content": "x" * (limit + 1)})
        empty = api.post("/v1/agents/rest-short/messages", json={"content": "  "})

    assert f"limit is {limit:,}" in assert_problem(too_long, 422, "invalid-message")["detail"]
    assert_problem(empty, 422, "invalid-message")


def test_an_oversized_body_is_a_413_problem(api: httpx2.Client) -> None:
    declared = api.post("/v1/agents/anyone/messages", json={"content": "x" * 5000})

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
        yield b'{"content": "'
        yield b"x" * 5000
        yield b'"}'

    streamed = api.post(
        "/v1/agents/anyone/messages",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )

    assert_problem(declared, 413, "body-too-large")
    assert_problem(streamed, 413, "body-too-large")


# --- security -------------------------------------------------------------------------------------


def test_a_token_is_required_when_one_is_set(shared_runtime: Runtime) -> None:
    with serving(create_app(shared_runtime, shared_runtime.settings, token="s3cret")) as api:
        missing = api.get("/v1/agents")
        wrong = api.get("/v1/agents", headers={"Authorization": "Bearer guess"})
        right = api.get("/v1/agents", headers={"Authorization": "Bearer s3cret"})
        health = api.get("/healthz")

    for refused in (missing, wrong):
        assert_problem(refused, 401, "unauthorized")
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "s3cret" not in refused.text and "guess" not in refused.text
    assert right.status_code == 200
    assert health.status_code == 200


def test_a_non_loopback_bind_always_gets_a_token(tmp_path: Path) -> None:
    kept = tmp_path / "api-token"
    generated = choose_token("0.0.0.0", None, keep_in=kept)
    configured = choose_token("0.0.0.0", SecretStr("mine"), keep_in=kept)

    assert generated.generated and generated.token and len(generated.token) >= 32
    assert configured == choose_token("127.0.0.1", SecretStr("mine"), keep_in=kept)
    assert configured.token == "mine" and not configured.generated
    assert choose_token("127.0.0.1", None, keep_in=kept).token is None
    assert choose_token("localhost", None, keep_in=kept).token is None
    assert not kept.exists(), "only --require-token keeps a token in the data dir"
    assert is_loopback("::1") and not is_loopback("192.168.1.10") and not is_loopback("example")


def test_a_required_token_is_kept_private_in_the_data_dir_and_reused(tmp_path: Path) -> None:
    kept = tmp_path / "home" / "api-token"

    first = choose_token("127.0.0.1", None, require=True, keep_in=kept)
    again = choose_token("0.0.0.0", None, require=True, keep_in=kept)

    assert first.token and len(first.token) >= 32 and not first.generated
    assert first.kept_in == kept and kept.read_text() == first.token
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert again.token == first.token, "local tools read the same token every time"
    assert choose_token("127.0.0.1", SecretStr("mine"), require=True, keep_in=kept).token == "mine"


def test_an_empty_token_file_is_refused_rather_than_accepting_an_empty_token(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "api-token"
    kept.write_text("\n")

    with pytest.raises(TokenFileError, match="holds no usable token"):
        choose_token("127.0.0.1", None, require=True, keep_in=kept)


def test_cors_allows_only_the_configured_origins(shared_runtime: Runtime) -> None:
    settings = settings_of(shared_runtime, cors_origins=["https://app.example"])
    preflight = {"Access-Control-Request-Method": "POST"}
    with serving(create_app(shared_runtime, settings, token=None)) as api:
        allowed = api.options("/v1/agents", headers={**preflight, "Origin": "https://app.example"})
        refused = api.options("/v1/agents", headers={**preflight, "Origin": "https://evil.test"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_a_client_over_the_rate_limit_gets_429_with_retry_after(shared_runtime: Runtime) -> None:
    settings = settings_of(shared_runtime, rate_limit_per_minute=3)
    with serving(create_app(shared_runtime, settings, token=None)) as api:
        replies = [api.get("/v1/tree") for _ in range(4)]

    assert [r.status_code for r in replies[:3]] == [200, 200, 200]
    assert_problem(replies[3], 429, "rate-limited")
    assert int(replies[3].headers["retry-after"]) >= 1


# --- rooms ----------------------------------------------------------------------------------------


def test_a_room_is_created_spoken_in_retopologized_and_deleted(api: httpx2.Client) -> None:
    spawn(api, "rest-room-a")
    spawn(api, "rest-room-b")

    created = api.post(
        "/v1/rooms", json={"name": "rest-room", "agents": ["rest-room-a", "rest-room-b"]}
    )
    said = api.post(
        "/v1/rooms/rest-room/messages", json={"content": "hello", "to": ["rest-room-a"]}
    )
    filtered = api.put("/v1/rooms/rest-room/topology", json={"topology": "filtered"})
    unknown = api.put("/v1/rooms/rest-room/topology", json={"topology": "star"})
    listed = api.get("/v1/rooms").json()["rooms"]
    history = api.get("/v1/rooms/rest-room/history").json()

    assert created.status_code == 201 and created.json()["spec"]["topology"] == "broadcast"
    assert said.status_code == 201
    assert said.json()["content"] == "hello" and said.json()["recipients"] == ["rest-room-a"]
    assert filtered.status_code == 200 and filtered.json()["spec"]["topology"] == "filtered"
    assert "star" in assert_problem(unknown, 422, "invalid-room")["detail"]
    assert "rest-room" in [room["spec"]["name"] for room in listed]
    assert "hello" in [m["content"] for m in history["messages"]]
    assert api.get("/v1/rooms/rest-room").json()["spec"]["name"] == "rest-room"

    assert api.delete("/v1/rooms/rest-room", params={"purge": True}).status_code == 204
    assert_problem(api.get("/v1/rooms/rest-room"), 404, "unknown-room")
    assert_problem(api.get("/v1/rooms/rest-room/history"), 404, "unknown-room")


def test_a_room_is_steered_paused_resumed_moderated_and_joined(api: httpx2.Client) -> None:
    spawn(api, "rest-steer-a")
    api.post("/v1/rooms", json={"name": "rest-steer", "agents": ["rest-steer-a"]})

    paused = api.post("/v1/rooms/rest-steer/pause")
    api.post("/v1/rooms/rest-steer/messages", json={"content": "held"})
    queued = api.get("/v1/rooms/rest-steer").json()
    moderated = api.put("/v1/rooms/rest-steer/mode", json={"mode": "moderated"})
    joined = api.post("/v1/rooms/rest-steer/members", json={"human": "alice"})
    resumed = api.post("/v1/rooms/rest-steer/resume")
    nothing = api.post("/v1/rooms/rest-steer/approval", json={"action": "skip", "pending": "x"})
    bad_action = api.post("/v1/rooms/rest-steer/explode")
    stopped = api.post("/v1/rooms/rest-steer/stop")

    assert paused.json()["state"] == "paused" and queued["queued"] == 1
    assert moderated.json()["spec"]["mode"] == "moderated", moderated.text
    assert "alice" in [m["name"] for m in joined.json()["spec"]["members"]]
    assert resumed.json()["state"] == "active"
    assert_problem(nothing, 409, "nothing-pending")
    assert bad_action.status_code in (404, 405)
    assert stopped.json()["state"] == "ended" and stopped.json()["ended_reason"] == "stopped"


def test_room_refusals_are_problems(api: httpx2.Client) -> None:
    no_agent = api.post("/v1/rooms", json={"name": "rest-empty", "agents": ["nobody-at-all"]})
    say = api.post("/v1/rooms/no-such-room/messages", json={"content": "hi"})

    assert "nobody-at-all" in assert_problem(no_agent, 404, "unknown-agent")["detail"]
    assert_problem(say, 404, "unknown-room")


# --- the tree, health and docs --------------------------------------------------------------------


def test_the_tree_events_and_health_are_served(api: httpx2.Client) -> None:
    spawn(api, "rest-tree")

    tree = api.get("/v1/tree").json()
    events = api.get("/v1/events", params={"limit": 50}).json()["events"]

    assert tree["supervisors"][0]["name"] == "root"
    assert "rest-tree" in [agent["spec"]["name"] for agent in tree["agents"]]
    assert any(e["event"] == "agent_started" and e["data"]["agent"] == "rest-tree" for e in events)
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}


def test_the_openapi_docs_are_served(api: httpx2.Client) -> None:
    schema = api.get("/openapi.json").json()
    docs = api.get("/docs")

    assert "/v1/agents/{name}/messages" in schema["paths"]
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert_problem(api.get("/v1/nothing-here"), 404, "not-found")
