"""The provider registry: "provider:model" strings, entry-point plug-ins, default resolution."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestration.providers import registry
from orchestration.providers.scripted import ScriptedProvider
from orchestration.settings import Settings, load_settings


class EchoPlugin(ScriptedProvider):
    """A third-party provider, registered only through its entry point."""

    name = "echo-plugin"
    default_model = "tiny"


@pytest.fixture
def plugin_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    found = dict(registry._entry_points())
    found["echo-plugin"] = EntryPoint(
        name="echo-plugin", value=f"{__name__}:EchoPlugin", group=registry.GROUP
    )
    monkeypatch.setattr(registry, "_entry_points", lambda: found)
    yield


def test_built_in_providers_register_through_the_entry_point_group() -> None:
    assert {"anthropic", "openai", "scripted"} <= set(registry.provider_names())


def test_model_strings_split_into_provider_and_model() -> None:
    assert registry.parse_model_ref("anthropic:claude-x") == ("anthropic", "claude-x")
    assert registry.parse_model_ref("scripted") == ("scripted", "echo")


def test_an_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(
        registry.UnknownProviderError,
        match=r"'nope'.*anthropic, claude-code, command, openai, scripted",
    ):
        registry.parse_model_ref("nope:model")


def test_a_model_string_without_a_provider_says_how_to_write_it() -> None:
    with pytest.raises(registry.UnknownProviderError, match="provider:model"):
        registry.parse_model_ref(":model")


def test_a_plugin_is_found_and_created_like_a_built_in(
    plugin_installed: None, tmp_path: Path
) -> None:
    assert registry.parse_model_ref("echo-plugin") == ("echo-plugin", "tiny")
    provider = registry.create_provider("echo-plugin", Settings(home=tmp_path))
    assert isinstance(provider, EchoPlugin)
    assert "echo-plugin" in [
        s.provider for s in registry.credential_report(Settings(home=tmp_path))
    ]


def test_the_default_is_scripted_without_credentials(tmp_path: Path) -> None:
    assert registry.default_model_ref(Settings(home=tmp_path))[:2] == ("scripted", "echo")


def test_the_default_prefers_anthropic_then_openai(tmp_path: Path) -> None:
    openai_only = Settings(home=tmp_path, openai_api_key=SecretStr("sk-o"))
    both = Settings(
        home=tmp_path, openai_api_key=SecretStr("sk-o"), anthropic_api_key=SecretStr("sk-a")
    )

    assert registry.default_model_ref(openai_only)[0] == "openai"
    assert registry.default_model_ref(both)[0] == "anthropic"
    assert "anthropic_api_key" in registry.default_model_ref(both)[2]


def test_the_configured_default_provider_wins(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        anthropic_api_key=SecretStr("sk-a"),
        default_provider="scripted",
        default_model="echo?delay=0",
    )

    assert registry.default_model_ref(settings)[:2] == ("scripted", "echo?delay=0")


def test_the_default_says_which_variable_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-o")

    provider, _, reason = registry.default_model_ref(load_settings())

    assert (provider, reason) == ("openai", "found env OPENAI_API_KEY")
