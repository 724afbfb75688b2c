"""Rooms from the command line: ``room`` commands, ``observe ROOM`` and ``join ROOM``, each as
its own ``orchestration`` process, with scripted agents that echo what they hear."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.test_errors import refusal


def spawn(cli: Cli, *names: str) -> None:
    for name in names:
        assert cli("spawn", name, "--provider", "scripted").code == 0


@pytest.mark.timeout(120)
def test_a_room_is_created_listed_said_in_and_its_history_says_who_heard_what(cli: Cli) -> None:
    spawn(cli, "planner", "critic")
    create = ("room", "create", "standup", "--agents", "planner,critic", "--respond", "round_robin")
    created = cli(*create, "--max-turns", "2")
    assert created.code == 0, created
    assert created.stdout.startswith("created room standup: agents planner, critic; humans user")

    [listed] = cli("room", "list", "--json").json()
    assert (listed["name"], listed["respond"], listed["max_turns"]) == ("standup", "round_robin", 2)
    assert [(m["name"], m["kind"]) for m in listed["members"]] == [
        ("planner", "agent"),
        ("critic", "agent"),
        ("user", "human"),
    ]
    table = cli("room", "list", COLUMNS="200").stdout.splitlines()
    row = next(line for line in table if "standup" in line)
    assert "planner, critic, user" in row and "round_robin" in row and "0/2" in row

    watcher = cli.session("observe", "standup", "--until-ended")
    watcher.wait_stderr("following room standup")
    said = cli("room", "say", "standup", "hello")
    assert said.code == 0, said
    assert said.stdout == "said in standup (delivered to planner, critic)\n"
    assert watcher.finish() == 0, "observe --until-ended exits once the conversation ends"

    shown = watcher.stdout.splitlines()
    spoken = [line for line in shown if " › " in line]
    assert spoken[:2] == ["user › hello", "planner › You said: hello"]
    assert spoken[2].startswith("critic › ")
    assert len(spoken) == 3, "a streamed reply is printed once, not again when journaled"
    assert shown[-1].startswith("* conversation_ended: ")

    assert cli("room", "show", "standup", "--json").json()["state"] == "ended"
    described = cli("room", "show", "standup").stdout
    assert "planner (agent), critic (agent), user (human)" in described
    assert "turns 2/2" in described

    history = cli("room", "history", "standup", "--deliveries").stdout.splitlines()
    assert next(line for line in history if "user › hello" in line).endswith("→ planner, critic")
    assert next(line for line in history if "planner › " in line).endswith("→ critic, user")
    assert any("* conversation_ended: " in line for line in history)
    journal = cli("room", "history", "standup", "--json").json()
    chats = [(m["sender"], m["delivered_to"]) for m in journal if m["kind"] == "chat"]
    assert [sender for sender, _ in chats] == ["user", "planner", "critic"]
    assert chats[0] == ("user", ["planner", "critic"])


@pytest.mark.timeout(120)
def test_observe_json_until_ended_prints_the_replies_and_the_end_as_json_lines(cli: Cli) -> None:
    spawn(cli, "planner", "critic")
    create = ("room", "create", "retro", "--agents", "planner,critic", "--respond", "round_robin")
    assert cli(*create, "--max-turns", "2").code == 0
    watcher = cli.session("observe", "retro", "--json", "--until-ended")
    watcher.wait_stderr("following room retro")

    assert cli("room", "say", "retro", "what went well?").code == 0

    assert watcher.finish() == 0, watcher.stderr
    items = [json.loads(line) for line in watcher.stdout.splitlines()]
    finished = [item for item in items if item["type"] == "turn_finished"]
    assert [item["agent"] for item in finished] == ["planner", "critic"]
    assert finished[0]["message"]["content"] == "You said: what went well?"
    journaled = [
        item
        for item in items
        if item["type"] == "envelope" and item["kind"] == "chat" and item["sender"] == "planner"
    ]
    assert [item["data"]["turn_id"] for item in journaled] == [finished[0]["turn_id"]]
    assert journaled[0]["delivered_to"] == ["critic", "user"]
    assert (items[-1]["type"], items[-1]["event"]) == ("envelope", "conversation_ended")


@pytest.mark.timeout(120)
def test_a_human_joins_in_moderated_mode_and_approves_a_reply_from_piped_stdin(cli: Cli) -> None:
    spawn(cli, "planner")
    assert cli("room", "create", "desk", "--agents", "planner", "--max-turns", "1").code == 0
    human = cli.session("join", "desk", "--mode", "moderated")
    human.wait_stderr("joined desk as user (mode moderated); /help for commands")
    alice = cli("join", "desk", "--as", "alice", input="")  # her stdin ends at once: she leaves
    assert alice.code == 0, alice
    assert "joined desk as alice (mode moderated)" in alice.stderr

    human.say("hello")
    human.wait_stdout("/approve, /edit TEXT or /skip")
    pending = cli("room", "show", "desk", "--json").json()["pending"]
    assert [(p["kind"], p["agent"], p["content"]) for p in pending] == [
        ("approval", "planner", "You said: hello")
    ]
    human.say("/approve")
    human.wait_stdout("approved the reply in desk")

    history = cli("room", "history", "desk", "--json").json()
    said = [(m["sender"], m["content"]) for m in history if m["kind"] == "chat"]
    assert said == [("user", "hello"), ("planner", "You said: hello")]
    human.say("/quit")
    assert human.finish() == 0, human.stderr
    assert "user › hello" in human.stdout
    members = cli("room", "show", "desk", "--json").json()["members"]
    assert [(m["name"], m["kind"]) for m in members if m["kind"] == "human"] == [
        ("user", "human"),
        ("alice", "human"),
    ]


@pytest.mark.timeout(120)
def test_an_unknown_room_and_a_bad_room_are_refused_with_the_fix(cli: Cli) -> None:
    spawn(cli, "planner")

    unknown = (("room", "show", "nowhere"), ("room", "say", "nowhere", "hi"), ("join", "nowhere"))
    for command in unknown:
        error, _ = refusal(cli(*command))
        assert "nowhere" in error, command
    error, hint = refusal(cli("observe", "nowhere"))
    assert "no agent named 'nowhere'" in error, "neither a room nor an agent"
    assert "orchestration spawn" in hint

    error, _ = refusal(cli("room", "create", "ghosts", "--agents", "ghost"))
    assert "ghost" in error
    error, hint = refusal(cli("room", "create", "x", "--agents", "planner", "--group", "planner"))
    assert "MEMBER=g1,g2" in error and "--group" in hint
    assert cli("room", "mode", "x", "loud").code == 2, "a mode that does not exist is a usage error"
    assert cli("room", "list", "--json").json() == [], "nothing was created"
