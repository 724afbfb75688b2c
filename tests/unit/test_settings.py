"""Settings: environment over file over defaults, sources shown, secrets never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.settings import DEFAULT_ADMIN_PORT, SettingsError, describe, load_settings


def sources(rows: list[tuple[str, str, str]]) -> dict[str, tuple[str, str]]:
    return {name: (value, source) for name, value, source in rows}


def test_defaults_apply_without_environment_or_file(tmp_path: Path) -> None:
    settings = load_settings()

    assert settings.admin_port == DEFAULT_ADMIN_PORT
    assert settings.home.name == "orchestration"
    assert sources(describe(settings))["admin_port"] == (str(DEFAULT_ADMIN_PORT), "default")


def test_the_settings_file_overrides_defaults_and_the_environment_overrides_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "orchestration.toml").write_text(
        'admin_port = 20001\nmax_message_chars = 50\ndefault_provider = "openai"\n'
    )
    monkeypatch.setenv("ORCH_ADMIN_PORT", "20002")
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "data"))

    settings = load_settings()
    shown = sources(describe(settings))

    assert settings.admin_port == 20002
    assert settings.max_message_chars == 50
    assert settings.home == tmp_path / "data"
    assert shown["admin_port"] == ("20002", "env ORCH_ADMIN_PORT")
    assert shown["max_message_chars"] == ("50", f"file {tmp_path / 'orchestration.toml'}")
    assert shown["home"][1] == "env ORCH_HOME"


def test_orch_config_names_the_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = tmp_path / "elsewhere.toml"
    named.write_text("turn_timeout = 9\n")
    monkeypatch.setenv("ORCH_CONFIG", str(named))

    assert load_settings().turn_timeout == 9


def test_secrets_are_redacted_and_their_source_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")

    rows = describe(load_settings())

    assert "sk-ant-very-secret" not in repr(rows)
    assert sources(rows)["anthropic_api_key"] == ("******** (set)", "env ANTHROPIC_API_KEY")


def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_ADMIN_PORT", "eighty")

    with pytest.raises(SettingsError, match="admin_port"):
        load_settings()


def test_a_malformed_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "orchestration.toml").write_text("admin_port = = 3\n")

    with pytest.raises(SettingsError):
        load_settings()
