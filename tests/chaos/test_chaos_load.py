"""The bounded chaos run (`bench._chaos`): 20 agents under load while random processes of
every kind but the admin are killed or stopped, and providers fail; then nothing is lost,
duplicated, left unanswered or answered out of order, and ``down`` leaves no process behind."""

from __future__ import annotations

import pytest

from bench._chaos import ENV, Chaos, build, processes, summary
from orchestration.daemon.record import DaemonRecord
from orchestration.processes.pids import ProcessId, port_in_use, wait_gone
from orchestration.runtime import Runtime
from orchestration.settings import Settings

MESSAGES = 2000
CLIENTS = 8
FAULT_EVERY = 0.7


@pytest.mark.timeout(300)
def test_under_load_and_faults_nothing_is_lost_duplicated_or_left_hanging(
    daemon_guard: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    runtime = Runtime.connect(Settings())
    try:
        build(runtime)
        report = Chaos(runtime).run(MESSAGES, CLIENTS, FAULT_EVERY)
        print("\n".join(summary(report)))
        events = runtime.events(limit=100_000)
        tree = [
            p for pids in processes(runtime).values() for pid in pids if (p := ProcessId.of(pid))
        ]
        record = DaemonRecord.read(runtime.settings)
        assert record is not None
        runtime.stop_daemon(grace=1.0)
    finally:
        runtime.close()

    assert report.sent >= MESSAGES - CLIENTS and report.accepted > report.sent // 2
    assert sum(report.kills.values()) >= 10, report.kills
    assert (report.lost, report.duplicated, report.unanswered) == ([], [], [])
    assert report.out_of_order == []
    crew_restarts = {
        name: sum(1 for e in events if e.event == "agent_restarted" and e.data["agent"] == name)
        for name in ["crew0", "crew1", "crew2", "crew3"]
    }
    assert len(set(crew_restarts.values())) == 1, f"one_for_all restarts all: {crew_restarts}"
    assert not any(e.event == "restart_limit_exceeded" for e in events)
    assert wait_gone(tree, timeout=10.0) == [], "down leaves no process"
    assert not port_in_use(record.port)
