"""``orchestration doctor``: passes on a healthy install, daemon up or down; fails, with the fix,
on a corrupt journal, a data dir others may read, and an agent program left running."""

from __future__ import annotations

import sqlite3
import subprocess
from contextlib import closing
from typing import Any

from orchestration.daemon.record import DaemonRecord
from orchestration.private_files import private_dir
from orchestration.processes.pidfiles import PidFile
from orchestration.processes.pids import ProcessId, port_in_use
from tests.e2e.conftest import Cli, Result

SECRET = "sk-ant-doctor-must-not-print-this"


def checks(result: Result) -> dict[str, dict[str, Any]]:
    """The checks of ``doctor --json``, by name."""
    return {check["name"]: check for check in result.json()}


def test_on_a_fresh_install_doctor_passes_and_starts_nothing(cli: Cli) -> None:
    result = cli("doctor")

    assert result.code == 0, result
    assert "problem" not in result.stdout
    assert "not running" in result.stdout and "orchestration up" in result.stdout
    assert DaemonRecord.read(cli.settings) is None and not port_in_use(cli.port)


def test_doctor_passes_with_the_daemon_up_and_down(cli: Cli) -> None:
    assert cli("spawn", "helper", "--provider", "scripted").code == 0
    record = DaemonRecord.read(cli.settings)
    assert record is not None

    up = cli("doctor", "--json", ANTHROPIC_API_KEY=SECRET)

    assert up.code == 0, up
    found = checks(up)
    assert {check["status"] for check in found.values()} <= {"ok", "warning"}
    assert f"admin pid {record.pid} on port {cli.port}" in found["daemon"]["detail"]
    assert found["journal"]["status"] == found["schema"]["status"] == "ok"
    assert found["provider anthropic"]["status"] == "ok"
    assert "ANTHROPIC_API_KEY" in found["provider anthropic"]["detail"]
    assert SECRET not in up.stdout + up.stderr
    assert found["claude CLI"]["status"] == "warning", "the tests point ORCH_CLAUDE_PATH nowhere"

    assert cli("down").code == 0
    down = cli("doctor")

    assert down.code == 0, down
    assert "not running" in down.stdout and "problem" not in down.stdout


def test_doctor_fails_on_a_corrupt_journal_and_says_how_to_restore_it(cli: Cli) -> None:
    assert cli("spawn", "helper", "--provider", "scripted").code == 0
    assert cli("send", "helper", "hello").code == 0
    assert cli("down").code == 0
    journal = cli.home / "journal.db"
    with closing(sqlite3.connect(journal)) as db:  # fold the WAL in: SQLite reads the file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with journal.open("r+b") as out:
        out.write(b"not a journal any more " * 100)

    result = cli("doctor")

    assert result.code == 1, result
    assert "problem" in result.stdout and "corrupt" in result.stdout
    assert "orchestration journal backup" in result.stdout
    found = checks(cli("doctor", "--json"))["journal"]
    assert found["status"] == "problem" and f"move {journal} aside" in found["fix"]
    copy = cli.home.parent / "copy.db"
    refused = cli("journal", "backup", str(copy))
    assert refused.code == 1 and "corrupt" in refused.stderr, refused
    assert not copy.exists()


def test_doctor_names_what_other_users_may_read_and_the_fix(cli: Cli) -> None:
    private_dir(cli.home).chmod(0o755)

    result = cli("doctor", "--json")

    assert result.code == 1, result
    found = checks(result)["data dir"]
    assert found["status"] == "problem"
    assert f"chmod 700 {cli.home}" in found["fix"]


def test_doctor_reports_an_agent_program_left_running_without_a_daemon(cli: Cli) -> None:
    private_dir(cli.home)
    program = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        process = ProcessId.of(program.pid)
        assert process is not None
        PidFile(program.pid, process.start_ticks, "coder", ["sleep", "60"]).write(
            cli.settings.pid_dir
        )

        result = cli("doctor", "--json")

        assert result.code == 1, result
        found = checks(result)["pid files"]
        assert found["status"] == "problem"
        assert "coder" in found["detail"] and str(program.pid) in found["detail"]
        assert "orchestration up" in found["fix"] and f"kill {program.pid}" in found["fix"]
    finally:
        program.kill()
        program.wait()
