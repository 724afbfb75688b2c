"""What a user sees when the cookie or the data dir's permissions are wrong: one error line and
its fix, quickly, never a hang or a traceback; `status` warns about files others may read."""

from __future__ import annotations

import secrets
from pathlib import Path

from tests.e2e.conftest import Cli
from tests.e2e.test_errors import refusal

QUICK = 20.0  # a refused client answers in well under this; a hang fails the command


def test_a_client_of_another_data_dir_is_told_that_the_daemon_refuses_its_cookie(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("up").code == 0

    error, hint = refusal(cli("list", ORCH_HOME=str(tmp_path / "elsewhere"), timeout=QUICK))

    assert f"admin port {cli.port} is held by the orchestration daemon of another data dir" in error
    assert "which refuses this client's cookie" in error
    assert "ORCH_COOKIE_FILE" in hint and "ORCH_ADMIN_PORT" in hint
    assert cli("list").code == 0, "the daemon is unharmed"


def test_a_client_sharing_the_cookie_file_is_told_the_port_is_another_data_dirs(
    cli: Cli, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.cookie"
    shared.write_text(secrets.token_hex(32))
    shared.chmod(0o600)
    cli.settings.cookie_file = shared  # for the fixture that stops the daemon
    assert cli("up", ORCH_COOKIE_FILE=str(shared)).code == 0

    other = cli("list", ORCH_HOME=str(tmp_path / "elsewhere"), ORCH_COOKIE_FILE=str(shared))

    error, _ = refusal(other)
    assert "another data dir" in error and "refuses" not in error
    assert cli("list", ORCH_COOKIE_FILE=str(shared)).code == 0


def test_a_daemon_started_with_another_cookie_is_named_with_the_way_out(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("up").code == 0
    cookie = tmp_path / "replaced.cookie"  # as if the cookie file had been replaced

    error, hint = refusal(cli("list", ORCH_COOKIE_FILE=str(cookie), timeout=QUICK))

    assert "runs with another cookie than" in error and str(cookie) in error
    assert "ORCH_COOKIE_FILE" in hint and "orchestration up" in hint
    assert cli("list").code == 0


def test_a_cookie_file_others_may_read_is_refused_with_the_chmod(cli: Cli) -> None:
    assert cli("up").code == 0
    cookie = cli.home / "cookie"
    cookie.chmod(0o644)

    error, hint = refusal(cli("list", timeout=QUICK))

    assert f"the cookie file {cookie} may be read by other users (mode 0644)" in error
    assert hint == f"make it private: chmod 600 {cookie}"
    cookie.chmod(0o600)
    assert cli("list").code == 0


def test_status_warns_about_files_in_the_data_dir_that_others_may_read(cli: Cli) -> None:
    assert cli("up").code == 0
    assert cli("status").stderr == "", "a fresh data dir is private"
    journal = cli.home / "journal.db"
    journal.chmod(0o644)

    shown = cli("status")
    as_json = cli("status", "--json").json()

    assert shown.code == 0
    assert f"warning: {journal} is readable by other users (mode 0644): chmod 600 {journal}" in (
        shown.stderr
    )
    assert as_json["warnings"] == [
        f"{journal} is readable by other users (mode 0644): chmod 600 {journal}"
    ]
