"""`orchestration events`: what the supervisors did, past and live."""

from __future__ import annotations

from tests.e2e.conftest import Cli


def test_events_show_starts_restarts_and_stops_and_follow_shows_new_ones(cli: Cli) -> None:
    assert cli("spawn", "flaky", "--provider", "scripted").code == 0
    crashed = cli("send", "flaky", "boom [[scripted: crash]]")
    assert crashed.code == 1 and "ScriptedCrash" in crashed.stderr

    follower = cli.session("events", "--follow", "--limit", "5")
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


def test_tree_draws_the_running_agents_under_the_root(cli: Cli) -> None:
    absent = cli("tree")
    assert absent.code == 1 and "orchestration up" in absent.stderr

    assert cli("spawn", "alpha", "--provider", "scripted").code == 0
    assert cli("spawn", "beta", "--provider", "scripted:echo?delay=0").code == 0
    drawn = cli("tree", COLUMNS="200")

    assert drawn.code == 0, drawn
    lines = drawn.stdout.splitlines()
    assert lines[0].startswith("orchestration.root  one_for_one")
    assert "alpha  scripted:echo  idle  pid " in lines[1]
    assert "beta  scripted:echo?delay=0  idle  pid " in lines[2]
