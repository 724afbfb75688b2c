"""``doctor``: one screen of checks of this installation, each problem with its fix.

It only looks: it never starts the daemon and kills nothing; the fixes it prints do that.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Literal

import typer
from rich.markup import escape

from orchestration import journal_tools
from orchestration.cli.output import ago, console, examples, print_json
from orchestration.daemon.record import (
    DaemonRecord,
    daemon_processes,
    daemon_running,
    privacy_warnings,
)
from orchestration.errors import DaemonError
from orchestration.processes.pidfiles import PidFile
from orchestration.providers.base import CredentialStatus
from orchestration.providers.claude_code import INSTALL_HINT, find_claude
from orchestration.providers.registry import (
    UnknownProviderError,
    credential_report,
    default_model_ref,
)
from orchestration.settings import Settings, load_settings

__all__ = ["doctor", "register"]

Json = Annotated[bool, typer.Option("--json", help="print the checks as a JSON list")]
Status = Literal["ok", "warning", "problem"]
STYLES: dict[Status, str] = {"ok": "green", "warning": "yellow", "problem": "bold red"}
CLAUDE_VERSION_TIMEOUT = 10.0
SHOWN_PRIVACY_FIXES = 3


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and the fix unless ``ok``."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def doctor(json: Json = False) -> None:
    """Check this installation and say how to fix each problem.

    It checks the daemon (never starting it), the data dir's privacy,
    the journal's integrity and schema version, each provider's
    credential source (never the secret), the Claude Code CLI, and
    processes or PID files left behind.

    Exits 1 when a check finds a problem; warnings (a provider without
    a credential, say) do not count.
    """
    settings = load_settings()
    checks = run_checks(settings)
    if json:
        print_json([asdict(check) for check in checks])
    else:
        _print(checks)
    if any(check.status == "problem" for check in checks):
        raise typer.Exit(1)


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order the report shows them."""
    daemon, running = _daemon(settings)
    return [
        daemon,
        _data_dir(settings),
        *_journal(settings, running),
        *_credentials(settings),
        _claude(settings),
        _daemon_leftovers(settings),
        _pid_files(settings, running),
    ]


def _daemon(settings: Settings) -> tuple[Check, bool]:
    """Whether the daemon runs, and where; not running is no problem."""
    start = "start it with: orchestration up"
    record = DaemonRecord.read(settings)
    if record is not None and not record.alive():  # left for `_daemon_leftovers` to report
        detail = f"not running (its last admin, pid {record.pid}, is gone); {start}"
        return Check("daemon", "ok", detail), False
    try:
        record = daemon_running(settings)
    except DaemonError as exc:
        return Check("daemon", "problem", str(exc), exc.hint), False
    if record is None:
        return Check("daemon", "ok", f"not running (port {settings.admin_port}); {start}"), False
    count = sum(len(pids) for pids in daemon_processes(settings).values())
    detail = (
        f"running: admin pid {record.pid} on port {record.port}, {count} process(es), "
        f"started {ago(datetime.fromisoformat(record.started_at))}"
    )
    return Check("daemon", "ok", detail), True


def _data_dir(settings: Settings) -> Check:
    """The data dir exists, is the user's, and nobody else may read it."""
    home = settings.home
    if not home.exists():
        return Check("data dir", "ok", f"{home} does not exist yet; the daemon creates it")
    if not home.is_dir():
        return Check(
            "data dir", "problem", f"{home} is not a directory", "set ORCH_HOME to a directory"
        )
    owner = home.stat().st_uid
    if owner != os.getuid():
        detail = f"{home} belongs to uid {owner}, not to you (uid {os.getuid()})"
        return Check("data dir", "problem", detail, "set ORCH_HOME to a directory of yours")
    warnings = privacy_warnings(settings)
    if not warnings:
        return Check("data dir", "ok", f"{home}: yours, and private to you")
    fixes = warnings[:SHOWN_PRIVACY_FIXES]
    if len(warnings) > SHOWN_PRIVACY_FIXES:
        more = len(warnings) - SHOWN_PRIVACY_FIXES
        fixes.append(f"and {more} more: chmod -R go-rwx {home} fixes them all")
    detail = f"other users may read {len(warnings)} path(s) of {home}"
    return Check("data dir", "problem", detail, "\n".join(fixes))


def _journal(settings: Settings, running: bool) -> list[Check]:
    """SQLite's quick_check of the journal, then its schema version against this version's."""
    health = journal_tools.inspect(settings.journal_path)
    if not health.exists:
        return [Check("journal", "ok", f"{health.path} does not exist yet; the daemon creates it")]
    if health.problem:
        return [Check("journal", "problem", health.problem, health.hint)]
    return [Check("journal", "ok", f"{health.path}: integrity ok"), _schema(health, running)]


def _schema(health: journal_tools.JournalHealth, running: bool) -> Check:
    expected = journal_tools.expected_migrations()
    version = f"version {len(health.applied)}, expected {len(expected)}"
    if health.unknown:
        detail = f"{version}: a newer orchestration applied {', '.join(health.unknown)}"
        fix = "upgrade orchestration (uv sync), or set ORCH_HOME to another data dir"
        return Check("schema", "problem", detail, fix)
    if not health.pending:
        return Check("schema", "ok", f"{version} (last migration {expected[-1]})")
    pending = ", ".join(health.pending)
    if running:
        detail = f"{version}: the running daemon is older than this orchestration ({pending})"
        fix = "restart it: orchestration down, then orchestration up"
        return Check("schema", "problem", detail, fix)
    return Check("schema", "ok", f"{version}: the daemon applies {pending} when it starts")


def _credentials(settings: Settings) -> list[Check]:
    """Each provider's credential source as `auth status` reports it, and the default."""
    checks = [_credential(status) for status in credential_report(settings)]
    try:
        provider, model, reason = default_model_ref(settings)
    except UnknownProviderError as exc:
        fix = "set ORCH_DEFAULT_PROVIDER to an installed provider, or unset it"
        return [*checks, Check("default model", "problem", str(exc), fix)]
    detail = f"new agents use {provider}:{model} ({reason})"
    return [*checks, Check("default model", "ok", detail)]


def _credential(status: CredentialStatus) -> Check:
    name = f"provider {status.provider}"
    if status.present:
        return Check(name, "ok", f"{status.source}: {status.detail}")
    return Check(name, "warning", f"{status.source}: missing", status.detail)


def _claude(settings: Settings) -> Check:
    """The Claude Code CLI and its version; its absence is a warning."""
    claude = find_claude(settings)
    if claude is None:
        return Check("claude CLI", "warning", "not found", INSTALL_HINT)
    try:
        done = subprocess.run(
            [claude, "--version"],
            capture_output=True,
            text=True,
            timeout=CLAUDE_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("claude CLI", "warning", f"{claude} --version failed: {exc}", INSTALL_HINT)
    answer = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if done.returncode != 0:
        detail = f"{claude} --version exited {done.returncode}: {answer[0] if answer else ''}"
        return Check("claude CLI", "warning", detail, INSTALL_HINT)
    return Check("claude CLI", "ok", f"{claude}: {answer[0] if answer else 'version unknown'}")


def _daemon_leftovers(settings: Settings) -> Check:
    """Processes of a daemon whose admin died (Thespian's logger, say)."""
    record = DaemonRecord.read(settings)
    strays = record.strays() if record is not None else []
    if record is None or not strays:
        return Check("orphans", "ok", "no process of a dead daemon runs")
    pids = " ".join(str(process.pid) for process in strays)
    detail = f"the daemon (admin pid {record.pid}) is gone, but its processes {pids} still run"
    return Check("orphans", "problem", detail, f"orchestration down kills them (or: kill {pids})")


def _pid_files(settings: Settings, running: bool) -> Check:
    """Agents' programs recorded in PID files: with no daemon, none should still run."""
    records = [
        record
        for path in sorted(settings.pid_dir.glob("*.json"))
        if (record := PidFile.read(path)) is not None
    ]
    if not records:
        return Check("pid files", "ok", "none")
    live = {record.agent: record.strays() for record in records}
    if running:
        count = sum(1 for processes in live.values() if processes)
        return Check("pid files", "ok", f"{len(records)}, {count} with a program running")
    left = {agent: processes for agent, processes in live.items() if processes}
    if not left:
        detail = f"{len(records)} stale, with no program running (removed at the next start)"
        return Check("pid files", "ok", detail)
    pids = " ".join(str(process.pid) for processes in left.values() for process in processes)
    detail = f"agents' programs still run with no daemon: {', '.join(left)} (pids {pids})"
    return Check("pid files", "problem", detail, f"orchestration up kills them (or: kill {pids})")


def _print(checks: list[Check]) -> None:
    width = max(len(check.name) for check in checks)
    indent = " " * (width + 12)
    for check in checks:
        console.print(
            f"[{STYLES[check.status]}]{check.status:<8}[/]  {escape(check.name.ljust(width))}  "
            + escape(check.detail),
            soft_wrap=True,
        )
        for line in check.fix.splitlines():
            console.print(f"{indent}[dim]fix: {escape(line)}[/]", soft_wrap=True)
    problems = sum(check.status == "problem" for check in checks)
    warnings = sum(check.status == "warning" for check in checks)
    if problems:
        console.print(f"{problems} problem(s), {warnings} warning(s)")
    else:
        console.print("all checks passed" + (f", {warnings} warning(s)" if warnings else ""))


def register(app: typer.Typer) -> None:
    app.command(epilog=examples("orchestration doctor", "orchestration doctor --json"))(doctor)
