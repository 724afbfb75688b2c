"""``service install|uninstall|status``: a systemd unit that runs ``up --foreground``.

systemd does not run here, so these tests keep systemctl off PATH and check the files.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.e2e.conftest import Cli

NO_SYSTEMCTL = "/nonexistent"  # PATH for the CLI: no systemctl to call


def test_install_print_shows_a_unit_running_up_foreground_and_no_secret(cli: Cli) -> None:
    done = cli("service", "install", "--user", "--print", ANTHROPIC_API_KEY="sk-ant-secret-value")

    assert done.code == 0, done
    lines = done.stdout.splitlines()
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith("-m orchestration.cli up --foreground")
    assert "Restart=on-failure" in lines
    assert "KillMode=mixed" in lines
    assert f"Environment=ORCH_HOME={cli.home}" in lines
    assert f"Environment=ORCH_ADMIN_PORT={cli.port}" in lines
    assert any(line.startswith("EnvironmentFile=-") for line in lines)
    assert "WantedBy=default.target" in lines
    assert "sk-ant-secret-value" not in done.stdout


def test_a_system_unit_runs_as_the_user_and_starts_at_boot(cli: Cli) -> None:
    done = cli("service", "install", "--print")
    assert done.code == 0, done
    assert any(line.startswith("User=") for line in done.stdout.splitlines())
    assert "WantedBy=multi-user.target" in done.stdout
    assert "EnvironmentFile=-/etc/orchestration/orchestration.env" in done.stdout


def test_install_status_uninstall_of_a_user_unit(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config"
    env = {"XDG_CONFIG_HOME": str(config), "PATH": NO_SYSTEMCTL}
    unit = config / "systemd" / "user" / "orchestration.service"
    credentials = config / "orchestration" / "orchestration.env"

    assert cli("service", "status", "--user", **env).code == 3

    installed = cli("service", "install", "--user", **env)
    assert installed.code == 0, installed
    assert "--foreground" in unit.read_text()
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert "systemctl --user enable --now orchestration" in installed.stderr

    status = cli("service", "status", "--user", **env)
    assert status.code == 0 and f"installed: {unit}" in status.stdout

    again = cli("service", "install", "--user", **env)
    assert again.code == 1 and "--force" in again.stderr

    credentials.write_text("ANTHROPIC_API_KEY=kept\n")
    assert cli("service", "install", "--user", "--force", **env).code == 0
    assert credentials.read_text() == "ANTHROPIC_API_KEY=kept\n", "credentials are never replaced"

    removed = cli("service", "uninstall", "--user", **env)
    assert removed.code == 0, removed
    assert not unit.exists() and credentials.exists()
    assert cli("service", "uninstall", "--user", **env).code == 1
