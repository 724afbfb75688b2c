"""Declared workflows over REST (``/v1/workflows``, JSON and Server-Sent Events) and MCP
(``run_workflow``), run by real Google ADK on the module's daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx2
import pytest

pytest.importorskip("orchestration.interfaces.adk")

from mcp import Client

from orchestration.interfaces.mcp import build_server
from orchestration.interfaces.rest import create_app
from orchestration.runtime import Runtime
from tests.interfaces.conftest import serving
from tests.interfaces.test_rest import assert_problem, server_sent_events

TEAM = """\
tree:
  name: wf-team
  children:
    - {name: wf-drafter, model: "scripted:echo"}
    - {name: wf-checker, model: "scripted:echo"}
workflows:
  - name: wf-review
    steps: [wf-drafter, {parallel: [wf-checker, wf-drafter]}]
"""


@pytest.fixture(scope="module")
def api(
    shared_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx2.Client]:
    path = tmp_path_factory.mktemp("workflows") / "team.yaml"
    path.write_text(TEAM)
    shared_runtime.up(path)
    with serving(create_app(shared_runtime, shared_runtime.settings, token=None)) as client:
        yield client


def test_the_declared_workflows_are_listed(api: httpx2.Client) -> None:
    listed = api.get("/v1/workflows")
    assert listed.status_code == 200
    (workflow,) = listed.json()["workflows"]
    assert workflow["name"] == "wf-review" and workflow["tree"] == "wf-team"


def test_a_run_returns_every_step_and_is_journaled(
    api: httpx2.Client, shared_runtime: Runtime
) -> None:
    ran = api.post("/v1/workflows/wf-review/runs", json={"input": "hello"})

    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert body["steps"][0]["agent"] == "wf-drafter"
    assert sorted(step["agent"] for step in body["steps"][1:]) == ["wf-checker", "wf-drafter"]
    assert body["run"].startswith("workflow:wf-review:")
    said = shared_runtime.run_history(body["run"])
    assert said[-1].event == "workflow_finished" and said[0].content == "hello"


def test_a_run_streams_as_server_sent_events(api: httpx2.Client) -> None:
    with api.stream(
        "POST", "/v1/workflows/wf-review/runs?stream=true", json={"input": "stream it"}
    ) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = server_sent_events(reply)

    names = [name for name, _ in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert names.count("step_started") == names.count("step_finished") == 3
    assert "delta" in names


def test_an_unknown_workflow_is_a_404_with_its_fix(api: httpx2.Client) -> None:
    body = assert_problem(
        api.post("/v1/workflows/nope/runs", json={"input": "x"}), 404, "unknown-workflow"
    )
    assert "workflows:" in body["hint"]


def test_the_mcp_tool_runs_a_declared_workflow(api: httpx2.Client, shared_runtime: Runtime) -> None:
    server = build_server(shared_runtime)

    async def story() -> dict[str, object]:
        async with Client(server) as client:
            result = await client.call_tool(
                "run_workflow", {"name": "wf-review", "input": "over mcp"}
            )
            unknown = await client.call_tool("run_workflow", {"name": "nope", "input": "x"})
            return {"result": result.structured_content, "unknown": unknown}

    seen = asyncio.run(story())
    result = seen["result"]
    assert isinstance(result, dict) and len(result["steps"]) == 3
    assert result["steps"][0]["text"] == "You said: over mcp"
    unknown = seen["unknown"]
    assert unknown.is_error and "no workflow named 'nope'" in unknown.content[0].text  # type: ignore[attr-defined]
