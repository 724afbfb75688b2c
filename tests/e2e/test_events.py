"""`orchestration events`: what the supervisors did, past and live."""

from __future__ import annotations

import json

from tests.e2e.conftest import EXAMPLES, Cli


def test_events_show_starts_restarts_and_stops_and_follow_shows_new_ones(cli: Cli) -> None:
    assert cli("spawn", "flaky", "--provider", "scripted").code == 0
    crashed = cli("send", "flaky", "boom [[scripted: crash]]")
    assert crashed.code == 1 and "ScriptedCrash" in crashed.stderr

    follower = cli.session("events", "--follow", "-n", "5")
    follower.wait_stdout("agent_restarted")
    assert cli("shutdown", "flaky").code == 0
    follower.wait_stdout("agent_stopped")

    logged = cli("events", "--json")
    assert logged.code == 0, logged
    events = [(event["event"], event["data"]["agent"]) for event in logged.json_lines()]
    assert events == [
        ("agent_started", "flaky"),
        ("agent_restarted", "flaky"),
        ("agent_stopped", "flaky"),
    ]
    assert "ScriptedCrash" in logged.json_lines()[1]["content"]


def test_events_follow_prints_the_last_n_then_each_new_event(cli: Cli) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        assert cli("spawn", name, "--provider", "scripted").code == 0

    follower = cli.session("events", "--follow", "-n", "3", "--json")
    follower.wait_stderr("following the supervision events")
    assert cli("spawn", "a5", "--provider", "scripted").code == 0
    text = follower.wait_stdout('"agent": "a5"')

    shown = [json.loads(line) for line in text.splitlines()]
    assert [(item["event"], item["data"]["agent"]) for item in shown] == [
        ("agent_started", "a2"),
        ("agent_started", "a3"),
        ("agent_started", "a4"),
        ("agent_started", "a5"),
    ]


def test_up_builds_a_tree_file_and_tree_draws_it_live(cli: Cli) -> None:
    absent = cli("tree")
    assert absent.code == 1 and "orchestration up" in absent.stderr

    up = cli("up", str(EXAMPLES / "pipeline.toml"))
    assert up.code == 0 and "supervisor pipeline is up" in up.stdout, up
    assert cli("spawn", "alpha", "--provider", "scripted").code == 0
    drawn = cli("tree", COLUMNS="200")

    assert drawn.code == 0, drawn
    lines = drawn.stdout.splitlines()
    assert lines[0].startswith("root  one_for_one · at most 3 restart(s) per child in 10 s")
    assert "pipeline  rest_for_one · at most 5 restart(s) in 30 s  running  pid " in lines[1]
    for line, stage in zip(lines[2:5], ("extract", "summarise", "review"), strict=True):
        assert f"{stage}  scripted:echo  idle  pid " in line
    assert "review" in lines[4] and "transient" in lines[4]
    assert "alpha  scripted:echo  idle  pid " in lines[5]

    again = cli("up", str(EXAMPLES / "pipeline.toml"))
    assert again.code == 0 and "tree pipeline is already up" in again.stdout, again
    listed = {row["name"]: row for row in cli("list", "--json").json()}
    assert listed["summarise"]["supervisor"] == "pipeline"
    assert listed["alpha"]["supervisor"] == "root"

    added = cli("spawn", "auditor", "--provider", "scripted", "--under", "pipeline")
    assert added.code == 0 and "spawned auditor on scripted:echo under pipeline" in added.stdout
    stray = cli("spawn", "lost", "--provider", "scripted", "--under", "nowhere")
    assert stray.code == 1 and "no supervisor named 'nowhere'" in stray.stderr, stray
    gone = cli("shutdown", "pipeline")
    assert gone.code == 0, gone
    assert [row["name"] for row in cli("list", "--json").json()] == ["alpha"]
