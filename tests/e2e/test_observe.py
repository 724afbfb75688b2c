"""``orchestration observe``: a bystander's live view of a conversation."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cli


def test_observe_shows_the_past_then_the_live_replies_failures_and_restarts(cli: Cli) -> None:
    assert cli("spawn", "echo", "--provider", "scripted").code == 0
    assert cli("send", "echo", "before you came").code == 0
    watcher = cli.session("observe", "echo", "--from-start")
    watcher.wait_stdout("echo: You said: before you came")

    assert cli("send", "echo", "hello [[scripted: delay=0.05]]").code == 0
    watcher.wait_stdout("echo › You said: hello\n")
    assert cli("send", "echo", "boom [[scripted: crash]]").code == 1
    watcher.wait_stdout("echo's turn failed (internal)")
    watcher.wait_stdout("agent_restarted: agent echo restarted")

    lines = watcher.stdout.splitlines()
    spoken = [line.split(" ", 1)[1] for line in lines if ": " in line and "›" not in line]
    assert spoken[:3] == [
        "user: before you came",
        "echo: You said: before you came",
        "user: hello [[scripted: delay=0.05]]",
    ]


def test_observe_json_prints_one_object_per_line_for_scripts(cli: Cli) -> None:
    assert cli("spawn", "echo", "--provider", "scripted").code == 0
    watcher = cli.session("observe", "echo", "--json")
    watcher.wait_stderr("following echo's conversation")

    assert cli("send", "echo", "count [[scripted: delay=0.02]]").code == 0
    text = watcher.wait_stdout('"content": "You said: count"')

    items = [json.loads(line) for line in text.splitlines()]
    counted = [item for item in items if item.get("turn_id") == items[-1]["turn_id"]]
    assert counted[-1]["type"] == "turn_finished"
    deltas = "".join(item["text"] for item in counted if item["type"] == "turn_delta")
    assert deltas == "You said: count"
    said = [item["content"] for item in items if item["type"] == "envelope"]
    assert "count [[scripted: delay=0.02]]" in said
