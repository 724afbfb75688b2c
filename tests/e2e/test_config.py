"""``config`` and ``auth status``: every value with where it came from, and never a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli
from tests.support import CLAUDE, QUIET_CLI

ANTHROPIC_SECRET = "sk-ant-e2e-DO-NOT-PRINT-4f1c9a"
OPENAI_SECRET = "sk-openai-e2e-FROM-FILE-77d2"


def test_config_shows_sources_and_no_secret_is_ever_printed(cli: Cli, tmp_path: Path) -> None:
    settings_file = tmp_path / "orchestration.toml"
    settings_file.write_text(f'turn_timeout = 42\nopenai_api_key = "{OPENAI_SECRET}"\n')
    cli.env.update(
        ANTHROPIC_API_KEY=ANTHROPIC_SECRET,
        ORCH_MAX_MESSAGE_CHARS="1234",
        ORCH_CONFIG=str(settings_file),
        COLUMNS="200",  # a wide table, so no value is wrapped or cut
    )

    table = cli("config")
    as_json = cli("config", "--json")
    auth_table = cli("auth", "status")
    auth = cli("auth", "status", "--json")

    for result in (table, as_json, auth_table, auth):
        assert result.code == 0, result
        for secret in (ANTHROPIC_SECRET, OPENAI_SECRET):
            assert secret not in result.stdout + result.stderr, f"{result.args} leaked a secret"
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert (
        "(set)" in rows["anthropic_api_key"]
        and "env ANTHROPIC_API_KEY" in rows["anthropic_api_key"]
    )
    assert f"settings file: {settings_file}" in table.stdout
    values = as_json.json()
    assert values["anthropic_api_key"]["source"] == "env ANTHROPIC_API_KEY"
    assert values["openai_api_key"] == {
        "value": "******** (set)",
        "source": f"file {settings_file}",
    }
    assert values["max_message_chars"] == {"value": "1234", "source": "env ORCH_MAX_MESSAGE_CHARS"}
    assert values["turn_timeout"] == {"value": "42.0", "source": f"file {settings_file}"}
    assert values["admin_port"] == {"value": str(cli.port), "source": "env ORCH_ADMIN_PORT"}
    assert values["provider_timeout"]["source"] == "default"

    report = auth.json()
    providers = {status["provider"]: status for status in report["providers"]}
    assert (
        providers["anthropic"]["present"]
        and providers["anthropic"]["source"] == "env ANTHROPIC_API_KEY"
    )
    assert providers["openai"]["present"]
    assert providers["scripted"]["present"]
    assert report["default"]["provider"] == "anthropic"
    assert "ANTHROPIC_API_KEY" in report["default"]["reason"]
    assert "new agents use anthropic:" in auth_table.stdout


def test_auth_status_without_credentials_says_where_they_are_looked_for(cli: Cli) -> None:
    auth = cli("auth", "status", "--json")

    assert auth.code == 0, auth
    report = auth.json()
    providers = {status["provider"]: status for status in report["providers"]}
    assert not providers["anthropic"]["present"]
    assert "ANTHROPIC_API_KEY" in providers["anthropic"]["detail"]
    assert "settings file" in providers["anthropic"]["detail"]
    assert report["default"]["provider"] == "scripted"


def test_auth_status_says_whether_claude_code_is_there_and_logged_in(
    cli: Cli, tmp_path: Path
) -> None:
    def claude_code(**env: str) -> tuple[dict[str, Any], str]:
        report = cli("auth", "status", "--json", **env).json()
        found = {status["provider"]: status for status in report["providers"]}
        return found["claude-code"], report["default"]["provider"]

    (tmp_path / "claude-config").mkdir()
    found = {
        "ORCH_CLAUDE_PATH": str(CLAUDE),
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        **QUIET_CLI,
    }

    absent, _ = claude_code()
    logged_out, default_out = claude_code(**found, ANTHROPIC_API_KEY="sk-ant-test")
    # A long-lived OAuth token stands in for the user's Pro or Max login.
    logged_in, default_in = claude_code(**found, CLAUDE_CODE_OAUTH_TOKEN="sk-ant-oat01-test")

    assert not absent["present"] and "install Claude Code" in absent["detail"]
    assert not logged_out["present"] and "not logged in" in logged_out["detail"]
    assert default_out == "anthropic", "an API key alone is no Claude Code login"
    assert logged_in["present"] and logged_in["source"] == "Claude Code login (oauth_token)"
    assert logged_in["detail"] == str(CLAUDE)
    assert default_in == "claude-code", "a logged-in Claude Code comes first"
