"""``orchestration observe``: a bystander's view of a conversation, like ``tail -f``: the last
lines of an agent's conversation or a room's (with its ending), then live; a room until it
ends, or with ``--follow`` across its endings."""

from __future__ import annotations

import json
import signal

import pytest

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


def test_observe_agent_prints_the_last_n_of_the_dm_then_what_is_said(cli: Cli) -> None:
    assert cli("spawn", "echo", "--provider", "scripted").code == 0
    for text in ("one", "two", "three"):
        assert cli("send", "echo", text).code == 0
    watcher = cli.session("observe", "echo", "-n", "2")
    watcher.wait_stderr("following echo's conversation")

    assert cli("send", "echo", "four").code == 0
    watcher.wait_stdout("echo › You said: four\n")

    lines = watcher.stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in lines[:2]] == ["user: three", "echo: You said: three"]
    assert lines[2].split(" ", 1)[1] == "user: four"
    assert lines[3:] == ["echo › You said: four"], "the reply, streamed, once"


def ended_room(cli: Cli, name: str = "standup", turns: int = 4) -> None:
    """Two scripted agents of a round-robin room take their ``turns`` after one human
    message, followed live by ``observe``, which exits by itself at the end."""
    for agent in ("planner", "critic"):
        assert cli("spawn", agent, "--provider", "scripted").code == 0
    create = ("room", "create", name, "--agents", "planner,critic", "--respond", "round_robin")
    assert cli(*create, "--max-turns", str(turns)).code == 0
    live = cli.session("observe", name)
    live.wait_stderr(f"following room {name}")
    assert cli("room", "say", name, "hello").code == 0
    assert live.finish() == 0, "a live room is followed until it ends, then observe exits"
    assert live.stdout.splitlines()[-1].startswith("* conversation_ended: ")


@pytest.mark.timeout(120)
def test_observe_an_ended_room_prints_its_messages_and_ending_then_exits(cli: Cli) -> None:
    ended_room(cli)

    shown = cli("observe", "standup")

    assert shown.code == 0, shown
    lines = shown.stdout.splitlines()
    spoken = [line.split(" › ")[0] for line in lines if " › " in line]
    assert spoken == ["user", "planner", "critic", "planner", "critic"]
    assert "user › hello" in lines
    assert lines[-1].startswith("* conversation_ended: conversation ended (max_turns)")
    assert "following" not in shown.stderr, "nothing to follow"


@pytest.mark.timeout(120)
def test_observe_json_prints_every_message_with_its_sender_and_the_ending(cli: Cli) -> None:
    ended_room(cli)

    shown = cli("observe", "standup", "--json")

    assert shown.code == 0, shown
    items = shown.json_lines()
    assert all(item["type"] == "envelope" for item in items)
    chats = [(item["sender"], item["content"]) for item in items if item["kind"] == "chat"]
    assert [sender for sender, _ in chats] == ["user", "planner", "critic", "planner", "critic"]
    assert chats[1] == ("planner", "You said: hello")
    assert (items[-1]["event"], items[-1]["data"]["reason"]) == ("conversation_ended", "max_turns")


@pytest.mark.timeout(120)
def test_observe_lines_and_from_start_choose_how_much_of_the_past_to_print(cli: Cli) -> None:
    ended_room(cli, turns=20)  # a journal longer than the default 20 lines
    journal = [item["id"] for item in cli("room", "history", "standup", "--json").json()]
    assert len(journal) > 20

    last_two = cli("observe", "standup", "-n", "2", "--json").json_lines()
    default = cli("observe", "standup", "--json").json_lines()
    everything = cli("observe", "standup", "--from-start", "--json").json_lines()

    assert [item["id"] for item in last_two] == journal[-2:]
    assert [item["id"] for item in default] == journal[-20:]
    assert [item["id"] for item in everything] == journal


@pytest.mark.timeout(120)
def test_observe_prints_the_ending_even_when_it_is_older_than_the_last_n(cli: Cli) -> None:
    ended_room(cli)
    assert cli("room", "topology", "standup", "filtered").code == 0  # journaled after the end

    only_end = cli("observe", "standup", "-n", "0", "--json")
    last_one = cli("observe", "standup", "-n", "1", "--json")

    assert only_end.code == 0 and last_one.code == 0, (only_end, last_one)
    assert [item["event"] for item in only_end.json_lines()] == ["conversation_ended"]
    events = [item["event"] for item in last_one.json_lines()]
    assert events == ["conversation_ended", "topology_changed"], "in the order they happened"


@pytest.mark.timeout(120)
def test_observe_follow_keeps_waiting_after_the_end_and_shows_a_resumed_room(cli: Cli) -> None:
    ended_room(cli)
    watcher = cli.session("observe", "standup", "--follow", "-n", "1")
    first = watcher.wait_stdout("* conversation_ended: ").index("* conversation_ended: ")
    watcher.wait_stderr("following room standup")
    assert watcher.process.poll() is None, "--follow waits on an ended room"

    assert cli("room", "resume", "standup").code == 0
    assert cli("room", "say", "standup", "again").code == 0
    text = watcher.wait_stdout("* conversation_ended: ", after=first + 1)
    assert watcher.process.poll() is None, "--follow waits across endings"

    watcher.process.send_signal(signal.SIGINT)
    assert watcher.process.wait(30) == 0
    lines = text.splitlines()
    assert lines[0].startswith("* conversation_ended: ")
    assert lines[1].startswith("* room_resumed: ")
    assert "user › again" in lines


def test_observe_refuses_follow_with_until_ended(cli: Cli) -> None:
    refused = cli("observe", "standup", "--follow", "--until-ended")
    assert refused.code == 2 and "contradict each other" in refused.stderr, refused
