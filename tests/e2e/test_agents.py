"""Agents one command at a time: spawn, send (with --json), list, status, history, shutdown and
down, each as its own ``orchestration`` process."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from orchestration.processes.pids import ProcessId, descendants, pid_alive, port_in_use
from tests.e2e.conftest import Cli

LIST_FIELDS = {
    "name",
    "provider",
    "model",
    "supervisor",
    "restart",
    "state",
    "pid",
    "process_pid",
    "turns",
    "restarts",
    "last_activity",
    "last_error",
}


def test_send_json_streams_events_that_add_up_to_the_journaled_reply(cli: Cli) -> None:
    assert cli("spawn", "writer", "--provider", "scripted").code == 0
    story = "once upon a time there lived a tiny actor"
    prompt = f"a story please [[scripted: reply={story}; delay=0.05]]"

    sent = cli("send", "writer", prompt, "--json")

    assert sent.code == 0, sent
    events = sent.json_lines()
    types = [event["type"] for event in events]
    assert types[0] == "turn_started" and types[-1] == "turn_finished", types
    assert set(types[1:-1]) == {"turn_delta"} and len(types) >= 4, "the reply came in pieces"
    started, finished = events[0], events[-1]
    assert {event["turn_id"] for event in events} == {started["turn_id"]}
    assert "".join(event["text"] for event in events[1:-1]) == story
    assert finished["message"]["content"] == story
    agent_pid = started["pid"]
    assert pid_alive(agent_pid)

    [writer] = cli("list", "--json").json()
    assert set(writer) == LIST_FIELDS
    assert (writer["name"], writer["provider"], writer["model"]) == ("writer", "scripted", "echo")
    assert (writer["pid"], writer["turns"], writer["restarts"]) == (agent_pid, 1, 0)

    status = cli("status", "--json").json()
    assert status["running"] and status["port"] == cli.port
    assert status["agents"] == [{"name": "writer", "state": "idle", "pid": agent_pid}]
    assert agent_pid in {p.pid for p in descendants(status["pid"])}, "the agent runs in the tree"

    history = cli("history", "writer", "--json").json()
    assert [(m["sender"], m["kind"], m["content"]) for m in history] == [
        ("user", "chat", prompt),
        ("writer", "chat", story),
    ]
    assert history[1]["id"] == finished["message"]["id"]


def test_agents_come_and_go_and_down_leaves_nothing_behind(cli: Cli, tmp_path: Path) -> None:
    up = cli("up")
    assert up.code == 0 and "orchestration daemon started" in up.stdout, up
    instructions = tmp_path / "beta.txt"
    instructions.write_text("You are beta.")
    assert "spawned alpha on scripted:echo (pid " in cli("spawn", "alpha").stdout
    beta = cli("spawn", "beta", "--provider", "scripted", "--system-file", str(instructions))
    assert beta.code == 0, beta

    table = cli("list")

    assert table.code == 0, table
    rows = {line.split()[1]: line for line in table.stdout.splitlines() if "scripted:echo" in line}
    assert sorted(rows) == ["alpha", "beta"]
    assert all("idle" in row for row in rows.values())
    assert cli("send", "alpha", "remember me").stdout == "You said: remember me\n"

    stopped = cli("shutdown", "alpha")

    assert stopped.code == 0 and stopped.stdout.strip() == "stopped alpha", stopped
    assert [a["name"] for a in cli("list", "--json").json()] == ["beta"]
    kept = cli("history", "alpha", "--json").json()
    assert [m["content"] for m in kept] == ["remember me", "You said: remember me"]

    assert cli("spawn", "gamma").code == 0
    everyone = cli("shutdown", "--all")

    assert everyone.code == 0 and everyone.stdout.strip() == "stopped 2: beta, gamma", everyone
    assert "no agents yet" in cli("list").stdout

    assert cli("spawn", "delta").code == 0  # one agent still running when the daemon goes down
    status = cli("status", "--json").json()
    admin = ProcessId.of(status["pid"])
    tree = [admin, *descendants(status["pid"])]
    assert len(tree) >= 4, "admin, logger, root, router and agent processes"

    down = cli("down")

    assert down.code == 0 and "orchestration daemon stopped" in down.stdout, down
    assert "killed" not in down.stderr, "every process should stop when asked"
    assert [p.pid for p in tree if p is not None and p.alive()] == []
    assert not port_in_use(cli.port)
    assert not (cli.home / "daemon.json").exists()
    assert cli("status").code == 1
    assert "no daemon runs" in cli("down").stdout, "a second down is harmless"


def _listening_addresses(pids: list[int]) -> list[str]:
    """``address:port`` of every TCP socket that these processes listen on (IPv4 and IPv6)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):  # a fd closed while we look
                inodes.add(os.readlink(fd))
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and f"socket:[{inode}]" in inodes:  # 0A: LISTEN
                address, hex_port = local.split(":")
                found.append(f"{_ip(address)}:{int(hex_port, 16)}")
    return found


def _ip(hex_address: str) -> str:
    """/proc/net/tcp's hex address as text: IPv4 is little-endian; IPv6 is left as hex."""
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return f"[{hex_address}]"


def test_every_process_of_the_daemon_listens_on_loopback_only(cli: Cli) -> None:
    """Thespian accepts pickled messages: a socket open to the network would run anyone's code."""
    assert cli("spawn", "sentinel").code == 0
    admin = cli("status", "--json").json()["pid"]

    listening = _listening_addresses([admin, *(p.pid for p in descendants(admin))])

    assert f"127.0.0.1:{cli.port}" in listening, listening
    assert [a for a in listening if not a.startswith("127.0.0.1:")] == [], listening


def test_spawn_command_runs_a_program_as_an_agent(cli: Cli) -> None:
    program = Path(__file__).parents[1] / "fakes" / "programs" / "jsonl_agent.py"
    command = f"{sys.executable} {program}"

    spawned = cli("spawn", "tool", "--command", command, "--protocol", "jsonl")

    assert spawned.code == 0, spawned
    assert "spawned tool on command:jsonl" in spawned.stdout and "program pid" in spawned.stdout
    assert cli("send", "tool", "hi there").stdout == "echo 1: hi there\n"
    [tool] = cli("list", "--json").json()
    assert tool["provider"] == "command" and pid_alive(tool["process_pid"])
    missing = cli("spawn", "ghost", "--command", "no-such-program-here")
    assert missing.code == 1 and "not found on the daemon's PATH" in missing.stderr, missing
