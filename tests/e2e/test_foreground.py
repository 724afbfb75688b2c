"""``up --foreground``: the daemon attached to one process, as systemd or a container runs it."""

from __future__ import annotations

import os
import signal

from orchestration.daemon.record import DaemonRecord, daemon_processes
from orchestration.processes.pids import ProcessId, descendants
from orchestration.settings import Settings
from tests.e2e.conftest import Cli, Session
from tests.support import wait_until

READY = "running in the foreground"
STOP_TIMEOUT = 30.0


def _start(cli: Cli) -> tuple[Session, DaemonRecord]:
    daemon = cli.session("up", "--foreground", "--grace", "1")
    daemon.wait_stderr(READY)
    record = DaemonRecord.read(cli.settings)
    assert record is not None and record.foreground == daemon.pid
    return daemon, record


def _processes(settings: Settings, record: DaemonRecord) -> list[ProcessId]:
    admin = ProcessId.of(record.pid)
    assert admin is not None
    return [admin, *descendants(record.pid)]


def _all_gone(processes: list[ProcessId], settings: Settings) -> None:
    wait_until(
        lambda: not any(p.alive() for p in processes) or None,
        "every process of the daemon to be gone",
    )
    assert daemon_processes(settings) == {}
    assert DaemonRecord.read(settings) is None


def test_sigterm_stops_every_agent_and_exits_0_leaving_no_process(cli: Cli) -> None:
    daemon, record = _start(cli)
    assert cli("spawn", "a1", "--provider", "scripted").code == 0
    sent = cli("send", "a1", "hello")
    assert sent.code == 0 and "You said: hello" in sent.stdout
    processes = _processes(cli.settings, record)
    assert len(processes) >= 4, "admin, logger, root, agent and router"

    daemon.process.send_signal(signal.SIGTERM)

    assert daemon.process.wait(STOP_TIMEOUT) == 0, daemon.stderr
    assert "SIGTERM: stopping every agent" in daemon.stderr
    assert "orchestration daemon stopped" in daemon.stderr
    _all_gone(processes, cli.settings)


def test_the_actors_log_goes_to_stderr(cli: Cli) -> None:
    daemon, _ = _start(cli)
    assert cli("spawn", "a1", "--provider", "scripted").code == 0
    daemon.process.send_signal(signal.SIGINT)
    assert daemon.process.wait(STOP_TIMEOUT) == 0, daemon.stderr
    assert " INFO " in daemon.stderr, "the actors' log lines"


def test_down_asks_the_foreground_process_to_stop(cli: Cli) -> None:
    daemon, record = _start(cli)
    processes = _processes(cli.settings, record)

    down = cli("down")

    assert down.code == 0, down
    assert daemon.process.wait(STOP_TIMEOUT) == 0, daemon.stderr
    _all_gone(processes, cli.settings)


def test_a_second_foreground_start_is_refused_while_one_runs(cli: Cli) -> None:
    _start(cli)
    second = cli("up", "--foreground")
    assert second.code == 1
    assert "already runs" in second.stderr and "orchestration down" in second.stderr


def test_after_a_kill_9_the_next_start_stops_the_unowned_daemon(cli: Cli) -> None:
    daemon, record = _start(cli)
    assert cli("spawn", "a1", "--provider", "scripted").code == 0
    left = _processes(cli.settings, record)
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.process.wait(STOP_TIMEOUT)

    again, fresh = _start(cli)

    assert "its killed owner" in again.stderr
    assert fresh.pid != record.pid
    wait_until(lambda: not any(p.alive() for p in left) or None, "the old daemon to be gone")
    listed = cli("list", "--json")
    assert [agent["name"] for agent in listed.json()] == ["a1"], "the agent came back"
    again.process.send_signal(signal.SIGTERM)
    assert again.process.wait(STOP_TIMEOUT) == 0, again.stderr


def test_the_admin_dying_under_it_exits_1_and_sweeps(cli: Cli) -> None:
    daemon, record = _start(cli)
    processes = _processes(cli.settings, record)

    os.kill(record.pid, signal.SIGKILL)

    assert daemon.process.wait(STOP_TIMEOUT) == 1, daemon.stderr
    assert f"admin (pid {record.pid}) exited" in daemon.stderr
    _all_gone(processes, cli.settings)
