"""Tree files run with ``up``: built as written, their ``system:`` applied, their
``conversations:`` opened, rebuilt after a crash of the whole daemon, and gone without a trace
after ``down``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from orchestration.conversation_ids import EVENTS_CONVERSATION
from orchestration.daemon.record import DaemonRecord
from orchestration.journal import Journal
from orchestration.messages import Member, RoomSpec
from orchestration.processes.pids import ProcessId, descendants, wait_gone
from orchestration.runtime import OrchestrationError, Runtime
from orchestration.settings import Settings
from tests.e2e.conftest import EXAMPLES

RESEARCH_TEAM = EXAMPLES / "research-team.yaml"
STANDUP = EXAMPLES / "standup.yaml"


def test_the_research_team_example_comes_up_as_written(runtime: Runtime) -> None:
    assert runtime.up(RESEARCH_TEAM).startswith("supervisor research-team is up (pid ")

    snapshot = runtime.tree()
    supervisors = {
        s.name: (s.parent, s.strategy, s.intensity, s.period, s.state) for s in snapshot.supervisors
    }
    assert supervisors == {
        "root": (None, "one_for_one", 3, 10, "running"),
        "research-team": ("root", "one_for_one", 3, 60, "running"),
        "researchers": ("research-team", "one_for_all", 2, 30, "running"),
        "editorial": ("research-team", "rest_for_one", 1, 5, "running"),
    }
    agents = {a.spec.name: (a.supervisor, a.restart, a.state) for a in snapshot.agents}
    assert agents == {
        "literature": ("researchers", "permanent", "idle"),
        "data": ("researchers", "permanent", "idle"),
        "skeptic": ("researchers", "permanent", "idle"),
        "writer": ("editorial", "permanent", "idle"),
        "editor": ("editorial", "transient", "idle"),
    }
    specs = {a.spec.name: a.spec for a in snapshot.agents}
    assert specs["skeptic"].recovery == "clean" and specs["literature"].turn_timeout == 120
    assert specs["writer"].turn_timeout == 300, "system: turn_timeout is the tree's default"
    assert runtime.up(RESEARCH_TEAM) == "tree research-team is already up"


def test_a_tree_files_system_section_applies_to_its_agents(
    runtime: Runtime, tmp_path: Path
) -> None:
    tree = tmp_path / "tight.yaml"
    tree.write_text(
        "system:\n  default_provider: scripted\n  max_message_chars: 20\n"
        "tree:\n  name: tight\n  children:\n    - name: terse\n"
    )

    runtime.up(tree)

    [terse] = runtime.list()
    assert terse.spec.model_ref == "scripted:echo"
    assert terse.spec.settings == {"max_message_chars": 20}
    with pytest.raises(OrchestrationError, match="the limit is 20") as refused:
        runtime.send("terse", "x" * 25).result()
    assert refused.value.code == "invalid_message"
    assert runtime.send("terse", "short").result().message.content == "You said: short"


def test_up_opens_the_conversations_of_a_tree_file_once_its_agents_run(
    runtime: Runtime,
) -> None:
    tree_line, room_line = runtime.up(STANDUP).splitlines()

    assert tree_line.startswith("supervisor standup-team is up (pid ")
    assert room_line == "room standup is active: planner, critic (round_robin, at most 6 turns)"
    assert {a.spec.name: a.state for a in runtime.list()} == {"planner": "idle", "critic": "idle"}
    [room] = runtime.rooms()
    assert room.spec == RoomSpec(
        name="standup",
        members=(Member(name="planner"), Member(name="critic"), Member(name="user", kind="human")),
        respond="round_robin",
        max_turns=6,
    )
    assert room.state == "active"
    assert runtime.up(STANDUP).splitlines() == ["tree standup-team is already up", room_line]
    assert len(runtime.rooms()) == 1, "up again keeps the room that runs"


def test_a_name_already_in_the_tree_is_refused_with_the_clash(runtime: Runtime) -> None:
    runtime.spawn("writer", provider="scripted")

    with pytest.raises(OrchestrationError, match="an agent named 'writer' already exists"):
        runtime.up(RESEARCH_TEAM)

    assert [a.spec.name for a in runtime.list()] == ["writer"], "nothing of the tree started"


def test_up_after_the_daemon_was_killed_rebuilds_the_same_tree_with_history(
    daemon_guard: Settings,
) -> None:
    with Runtime.connect(daemon_guard) as runtime:
        runtime.up(RESEARCH_TEAM)
        runtime.spawn("fact-checker", provider="scripted", under="editorial")
        runtime.send("literature", "survey actors").result()
        runtime.send("fact-checker", "check dates").result()
        before = runtime.tree()
    record = DaemonRecord.read(daemon_guard)
    assert record is not None
    processes = descendants(record.pid)

    admin = ProcessId.of(record.pid)
    assert admin is not None
    os.kill(record.pid, signal.SIGKILL)  # the whole daemon crashes
    assert not wait_gone([admin], timeout=10)

    with Runtime.connect(daemon_guard) as runtime:
        assert runtime.started
        leftovers = wait_gone(processes, timeout=10)
        assert not leftovers, "actors die with their parents; the new start sweeps the rest"
        assert runtime.up(RESEARCH_TEAM) == "tree research-team is already up"
        after = runtime.tree()
        assert [(s.name, s.parent) for s in after.supervisors] == [
            (s.name, s.parent) for s in before.supervisors
        ]
        assert sorted((a.spec.name, a.supervisor, a.state) for a in after.agents) == sorted(
            (a.spec.name, a.supervisor, "idle") for a in before.agents
        )
        assert [m.content for m in runtime.history("literature")] == [
            "survey actors",
            "You said: survey actors",
        ]
        assert runtime.history("fact-checker")[0].content == "check dates"


def test_down_stops_a_whole_tree_in_reverse_order_and_leaves_no_process(
    daemon_guard: Settings,
) -> None:
    with Runtime.connect(daemon_guard) as runtime:
        runtime.up(RESEARCH_TEAM)
        record = DaemonRecord.read(daemon_guard)
        assert record is not None
        processes = descendants(record.pid)
        assert len(processes) >= 9, "root, 3 supervisors and 5 agents at least"

        killed = runtime.stop_daemon(grace=1.0)

    assert killed == []
    assert not wait_gone(processes, timeout=10)
    with Journal(daemon_guard.journal_path) as journal:
        events = [e for _, e in journal.history(EVENTS_CONVERSATION)]
    stopped = [e.data["agent"] for e in events if e.event == "agent_stopped"]
    assert stopped == [
        "editor",
        "writer",
        "editorial",
        "skeptic",
        "data",
        "literature",
        "researchers",
        "research-team",
    ]
