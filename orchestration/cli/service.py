"""``service install|uninstall|status``: the daemon as a systemd service.

The unit runs ``up --foreground`` with ``Restart=on-failure``, for this data dir and admin port.
Credentials never go into the unit: it reads them from an ``EnvironmentFile`` (mode 0600), which
``install`` creates, commented out, if there is none. ``KillMode=mixed`` sends SIGTERM to the
foreground process alone, which stops every agent gracefully before the rest is killed.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from orchestration.cli.output import console, examples, fail, note
from orchestration.private_files import private_dir, write_private
from orchestration.settings import Settings, load_settings

__all__ = ["register", "service"]

UNIT = "orchestration.service"
SYSTEMCTL_TIMEOUT = 30.0
ENV_TEMPLATE = """\
# Credentials and settings of the orchestration service (read by systemd; keep it mode 0600).
# ANTHROPIC_API_KEY=sk-ant-...
# OPENAI_API_KEY=sk-...
# ORCH_DEFAULT_PROVIDER=anthropic
"""

service = typer.Typer(help="Run the daemon as a systemd service.", no_args_is_help=True)
User = Annotated[
    bool, typer.Option("--user", help="a user unit (~/.config/systemd/user), not a system one")
]


@dataclass(frozen=True)
class Placement:
    """Where a user or a system unit and its environment file go."""

    user: bool

    @property
    def unit_path(self) -> Path:
        if self.user:
            return _config_home() / "systemd" / "user" / UNIT
        return Path("/etc/systemd/system") / UNIT

    @property
    def environment_file(self) -> Path:
        if self.user:
            return _config_home() / "orchestration" / "orchestration.env"
        return Path("/etc/orchestration/orchestration.env")

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *(["--user"] if self.user else []), *args]


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def unit_text(settings: Settings, placement: Placement) -> str:
    """The systemd unit that runs this install's daemon in the foreground."""
    command = " ".join(_quoted(part) for part in (sys.executable, "-m", "orchestration.cli"))
    account = [] if placement.user else [f"User={os.environ.get('SUDO_USER') or getpass.getuser()}"]
    lines = [
        "[Unit]",
        "Description=orchestration: supervised teams of LLM agents",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        *account,
        f"ExecStart={command} up --foreground",
        "Restart=on-failure",
        "RestartSec=2",
        "KillMode=mixed",
        "TimeoutStopSec=60",
        f"Environment={_quoted(f'ORCH_HOME={settings.home}')}",
        f"Environment=ORCH_ADMIN_PORT={settings.admin_port}",
        f"EnvironmentFile=-{placement.environment_file}",
        "",
        "[Install]",
        f"WantedBy={'default.target' if placement.user else 'multi-user.target'}",
    ]
    return "\n".join(lines) + "\n"


def _quoted(word: str) -> str:
    """A word as systemd reads it: double-quoted when it holds a space or a quote."""
    if any(c in word for c in ' "\\'):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


@service.command(
    epilog=examples(
        "orchestration service install --user --print",
        "orchestration service install --user",
        "sudo orchestration service install",
    )
)
def install(
    user: User = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="print the unit instead of writing it")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="replace an existing unit")] = False,
) -> None:
    """Write a systemd unit that runs the daemon with Restart=on-failure.

    It runs `orchestration up --foreground` for this data dir and admin port. Credentials go in
    its EnvironmentFile, which is created (mode 0600, everything commented out) if missing.
    """
    placement = Placement(user)
    text = unit_text(load_settings(), placement)
    if print_only:
        sys.stdout.write(text)
        return
    if placement.unit_path.exists() and not force:
        fail(
            f"{placement.unit_path} exists already",
            "replace it with --force, or remove it with `orchestration service uninstall`",
        )
    try:
        placement.unit_path.parent.mkdir(parents=True, exist_ok=True)
        placement.unit_path.write_text(text)
        if not placement.environment_file.exists():
            private_dir(placement.environment_file.parent)
            write_private(placement.environment_file, ENV_TEMPLATE)
    except PermissionError as exc:
        fail(f"cannot write {exc.filename}", "run it as root (sudo), or pass --user")
    console.print(f"wrote {placement.unit_path}", soft_wrap=True)
    console.print(f"credentials go in {placement.environment_file} (mode 0600)", soft_wrap=True)
    _systemctl(placement, "daemon-reload")
    verb = " ".join(placement.systemctl("enable", "--now", "orchestration"))
    note(f"start it now and at boot: {verb}")
    if user:
        note(f"keep it running when you log out: loginctl enable-linger {getpass.getuser()}")


@service.command(epilog=examples("orchestration service uninstall --user"))
def uninstall(user: User = False) -> None:
    """Stop and disable the service, then remove its unit; keep the data and credentials."""
    placement = Placement(user)
    if not placement.unit_path.exists():
        fail(f"no unit at {placement.unit_path}", "nothing to remove; see `service status`")
    _systemctl(placement, "disable", "--now", "orchestration")
    try:
        placement.unit_path.unlink()
    except PermissionError:
        fail(f"cannot remove {placement.unit_path}", "run it as root (sudo), or pass --user")
    _systemctl(placement, "daemon-reload")
    console.print(f"removed {placement.unit_path}", soft_wrap=True)


@service.command(epilog=examples("orchestration service status --user"))
def status(user: User = False) -> None:
    """Say whether the unit is installed, enabled and active."""
    placement = Placement(user)
    if not placement.unit_path.exists():
        console.print(f"not installed (no {placement.unit_path})", soft_wrap=True)
        note(f"install it: orchestration service install{' --user' if user else ''}")
        raise typer.Exit(3)
    console.print(f"installed: {placement.unit_path}", soft_wrap=True)
    if shutil.which("systemctl") is None:
        note("systemctl is not on PATH: cannot tell whether it is enabled or running")
        return
    for query in ("is-enabled", "is-active"):
        answer = _systemctl(placement, query, "orchestration", quiet=True)
        console.print(f"{query.removeprefix('is-')}: {answer or 'unknown'}")


def _systemctl(placement: Placement, *args: str, quiet: bool = False) -> str:
    """Run systemctl if there is one; its first line of output ('' if none or it failed)."""
    if shutil.which("systemctl") is None:
        if not quiet:
            note(f"systemctl is not on PATH; run `{' '.join(placement.systemctl(*args))}` later")
        return ""
    try:
        done = subprocess.run(
            placement.systemctl(*args),
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or (done.returncode != 0 and not quiet):
        problem = "timed out" if done is None else done.stderr.strip() or f"exit {done.returncode}"
        note(f"`{' '.join(placement.systemctl(*args))}`: {problem}")
    return done.stdout.strip().splitlines()[0] if done and done.stdout.strip() else ""


def register(app: typer.Typer) -> None:
    app.add_typer(service, name="service")
