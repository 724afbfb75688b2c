"""Settings: ``ORCH_*`` environment variables, an optional ``orchestration.toml``, and defaults.

Precedence, highest first: environment, settings file, defaults. The settings file is the one
named by ``ORCH_CONFIG``, else ``./orchestration.toml``, else ``orchestration.toml`` in the
user's config dir. Provider credentials use the providers' own variable names
(``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``...) or the file; they are `SecretStr` and never
printed.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from orchestration.errors import SettingsError

__all__ = [
    "DEFAULT_ADMIN_PORT",
    "Settings",
    "config_file",
    "default_home",
    "describe",
    "load_settings",
    "setting_source",
]

CONFIG_FILE_NAME = "orchestration.toml"
DEFAULT_ADMIN_PORT = 19_850
UTF8_MAX_BYTES = 4


def default_home() -> Path:
    """The platform's data dir for orchestration."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "orchestration"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "orchestration"
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "orchestration"


def config_file() -> Path | None:
    """The settings file in force, if any."""
    named = os.environ.get("ORCH_CONFIG")
    if named:
        return Path(named)
    local = Path.cwd() / CONFIG_FILE_NAME
    if local.is_file():
        return local
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    user = Path(base) / "orchestration" / CONFIG_FILE_NAME
    return user if user.is_file() else None


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseModel):
    """The effective configuration of one process: what the caller passes, else the
    environment, else the settings file, else the defaults."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=default_home, description="data dir (journal, logs)")
    admin_port: int = Field(DEFAULT_ADMIN_PORT, ge=1024, le=65535, description="Thespian admin")
    default_provider: str | None = Field(None, description="provider of new agents; auto if unset")
    default_model: str | None = Field(None, description="model of new agents; per provider")
    max_message_chars: int = Field(100_000, ge=1, description="longest message accepted")
    max_frame_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="largest frame between actor processes; longer length prefixes are refused",
    )
    cookie_file: Path | None = Field(
        None, description="the cookie that authenticates actor frames (default: DATA_DIR/cookie)"
    )
    turn_timeout: float = Field(
        600.0, gt=0, description="seconds a turn's caller waits between two of its messages"
    )
    request_timeout: float = Field(
        10.0, gt=0, description="seconds a command waits for the tree's answer before it fails"
    )
    stream_check_interval: float = Field(
        2.0, gt=0, description="seconds of silence after which a turn's caller checks its router"
    )
    restart_intensity: int = Field(3, ge=0, description="restarts an agent may need...")
    restart_period: int = Field(10, ge=1, description="...within this many seconds")
    health_interval: float = Field(5.0, gt=0, description="seconds between agent health checks")
    provider_timeout: float = Field(600.0, gt=0, description="SDK request timeout, seconds")
    claude_path: str = Field(
        "",
        description="the Claude Code CLI (default: claude on PATH, then claude-agent-sdk's own)",
    )
    provider_max_retries: int = Field(2, ge=0, description="SDK retries of a failed request")
    api_host: str = Field("127.0.0.1", description="address `serve` binds (not loopback: token)")
    api_port: int = Field(8765, ge=0, le=65535, description="port `serve` listens on")
    api_token: SecretStr | None = Field(None, description="bearer token the REST API requires")
    api_require_token: bool = Field(
        False, description="require a token on loopback too (kept in DATA_DIR/api-token)"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins CORS allows, comma-separated (none if empty)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1, description="largest REST request body")
    rate_limit_per_minute: int = Field(
        600, ge=0, description="REST requests per client per minute (0: no limit)"
    )
    gateway_window: int = Field(
        2000, ge=1, description="messages that may wait for a slow serving process before it is cut"
    )
    gateway_link_timeout: float = Field(
        10.0, gt=0, description="seconds a serving process may stay silent before it is cut"
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ORCH_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_auth_token: SecretStr | None = Field(
        None, validation_alias=_env("ORCH_ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=_env("ORCH_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL")
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ORCH_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=_env("ORCH_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any) -> Any:
        """Fill in what the caller did not pass, from the environment, then the file."""
        if not isinstance(given, dict):
            return given
        path = config_file()
        from_file = _read_file(path) if path is not None else {}
        return {**from_file, **_from_env(), **given}

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _messages_fit_in_frames(self) -> Settings:
        longest = self.max_message_chars * UTF8_MAX_BYTES
        if longest > self.max_payload_bytes:
            raise ValueError(
                f"max_message_chars {self.max_message_chars:,} allows messages of up to "
                f"{longest:,} bytes, more than half of max_frame_bytes "
                f"({self.max_frame_bytes:,}): raise ORCH_MAX_FRAME_BYTES to at least "
                f"{2 * longest:,} or lower ORCH_MAX_MESSAGE_CHARS"
            )
        return self

    @property
    def journal_path(self) -> Path:
        return self.home / "journal.db"

    @property
    def max_payload_bytes(self) -> int:
        """How much of a frame a batch of messages (a history page, an agent's resumed view)
        may fill; the rest is the margin for everything else in the message."""
        return self.max_frame_bytes // 2

    @property
    def cookie_path(self) -> Path:
        """The cookie file in force: ``ORCH_COOKIE_FILE``, else ``cookie`` in the data dir."""
        return self.cookie_file or self.home / "cookie"

    @property
    def api_token_path(self) -> Path:
        """Where ``serve --require-token`` keeps its token for local tools to read."""
        return self.home / "api-token"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def pid_dir(self) -> Path:
        """One PID file per agent OS process (`orchestration.processes.pidfiles`)."""
        return self.home / "pids"


def load_settings() -> Settings:
    """Read the settings; raise `SettingsError` naming the bad value and the fix."""
    try:
        return Settings()
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(str(exc)) from exc


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Each setting as (name, shown value, source), with secrets redacted."""
    return [
        (name, _redact(getattr(settings, name)), setting_source(name) or "default")
        for name in Settings.model_fields
    ]


def setting_source(name: str) -> str | None:
    """Where a setting's value comes from: ``env VAR``, ``file PATH``, or ``None`` when neither
    (a default, or a value passed in code)."""
    for env_name in _env_names(name):
        if env_name in os.environ:
            return f"env {env_name}"
    path = config_file()
    if path is not None and name in _read_file(path):
        return f"file {path}"
    return None


def _env_names(name: str) -> list[str]:
    """The variables that set field ``name``, first match wins: its aliases, else ORCH_NAME."""
    alias = Settings.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [f"ORCH_{name.upper()}"]


def _from_env() -> dict[str, str]:
    """The settings the environment sets, by field name."""
    found: dict[str, str] = {}
    for name in Settings.model_fields:
        for env_name in _env_names(name):
            if env_name in os.environ:
                found[name] = os.environ[env_name]
                break
    return found


def _read_file(path: Path) -> dict[str, Any]:
    """The settings file's top-level values (a missing file has none)."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}


def _redact(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, SecretStr):
        return "******** (set)"
    return str(value)
