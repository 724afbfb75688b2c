"""The ``claude-code`` provider: Claude on the user's subscription, through the official CLI.

Anthropic's terms allow subscription (OAuth) tokens only in Claude Code and Anthropic's own
apps, so this provider never reads, copies, refreshes or forwards the CLI's credentials: it runs
``claude`` itself, which owns its login, its token refresh and the Keychain, as a long-lived
subprocess agent::

    claude -p --input-format stream-json --output-format stream-json --verbose
        --include-partial-messages --model MODEL --permission-mode plan
        [--append-system-prompt SYSTEM] [--allowedTools A,B] [--max-budget-usd N]
        [--resume SESSION]

Each turn is one stdin line ``{"type":"user","message":{"role":"user","content":...}}``; the
partial-message stream events become text deltas and the ``result`` line ends the turn, its
``session_id``, ``total_cost_usd`` and ``is_error`` kept with the reply in the journal. A new
incarnation resumes the last session (``--resume``). The program runs without
``ANTHROPIC_API_KEY`` and ``ANTHROPIC_AUTH_TOKEN`` (they would outrank the subscription) unless
the agent keeps them (``keep_env``), and with ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``.

The options above are an agent's `ClaudeCodeOptions` (``spec.claude_code``): this provider owns
them and is their only reader; the model lives in `orchestration.messages.claude_code`, since
the spec carries it, and is re-exported here.

The CLI is found through the ``claude_path`` setting, then PATH, then the binary bundled in the
``claude-agent-sdk`` wheel; ``claude auth status`` says whether it is logged in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestration.messages import AgentSpec, ClaudeCodeOptions, ErrorKind, Usage
from orchestration.providers.base import (
    AuthError,
    CredentialStatus,
    ProviderRequest,
    StreamEnd,
    TextDelta,
)
from orchestration.providers.program import (
    ProcessCommand,
    ProcessEvent,
    ProcessFailure,
    ProcessLog,
    ProcessProtocol,
    new_input,
)
from orchestration.settings import Settings

__all__ = [
    "INSTALL_HINT",
    "AuthStatus",
    "ClaudeCodeOptions",
    "ClaudeCodeProtocol",
    "ClaudeCodeProvider",
    "auth_status",
    "find_claude",
]

CREDENTIAL_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
INSTALL_HINT = (
    "install Claude Code (https://claude.com/claude-code, or `uv add claude-agent-sdk`, which "
    "bundles it), or point ORCH_CLAUDE_PATH at it"
)
LOGIN_HINT = "log in once with `claude` (then /login), as the user that runs the daemon"
AUTH_STATUS_SECONDS = 30
"""How long one ``claude auth status`` answer is reused."""
AUTH_STATUS_TIMEOUT = 20.0
API_ERRORS: dict[Any, tuple[ErrorKind, bool]] = {
    401: ("auth", False),
    403: ("auth", False),
    429: ("rate_limit", True),
    500: ("overloaded", True),
    502: ("connection", True),
    503: ("overloaded", True),
    529: ("overloaded", True),
}
"""A failed result's ``api_error_status`` as a turn failure's kind, and whether to retry."""


def find_claude(settings: Settings) -> str | None:
    """The CLI to run: the ``claude_path`` setting, else ``claude`` on PATH, else the binary
    bundled in the ``claude-agent-sdk`` package; None when there is none."""
    if settings.claude_path:
        path = Path(settings.claude_path).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    on_path = shutil.which("claude")
    if on_path:
        return on_path
    package = importlib.util.find_spec("claude_agent_sdk")
    if package is None or package.origin is None:
        return None
    bundled = Path(package.origin).parent / "_bundled" / "claude"
    return str(bundled) if bundled.is_file() else None


@dataclass(frozen=True)
class AuthStatus:
    """What ``claude auth status`` says (never a token)."""

    logged_in: bool
    method: str = ""
    api_key_source: str = ""
    problem: str = ""


def auth_status(claude: str) -> AuthStatus:
    """Ask the CLI whether it is logged in, in the environment its agents get (without
    ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_AUTH_TOKEN``, which it would count as a login): so
    "logged in" means the user's own Claude Code login. Answers are reused for a few seconds."""
    return _auth_status(claude, int(time.monotonic() // AUTH_STATUS_SECONDS))


@lru_cache(maxsize=8)
def _auth_status(claude: str, _period: int) -> AuthStatus:
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES} | QUIET
    try:
        done = subprocess.run(
            [claude, "auth", "status"],
            capture_output=True,
            text=True,
            timeout=AUTH_STATUS_TIMEOUT,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return AuthStatus(logged_in=False, problem=f"`claude auth status` failed: {exc}")
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    return AuthStatus(
        logged_in=done.returncode == 0 and bool(answer.get("loggedIn")),
        method=str(answer.get("authMethod") or ""),
        api_key_source=str(answer.get("apiKeySource") or ""),
        problem="" if done.returncode == 0 else (done.stderr.strip() or "not logged in"),
    )


class ClaudeCodeProtocol(ProcessProtocol):
    """Claude Code's stream-json, in and out. ``init`` repeats on every turn: the key source
    it names is logged once."""

    def __init__(self) -> None:
        self.announced = False

    def encode(self, request: ProviderRequest) -> bytes:
        content = new_input(request)
        earlier_turns = request.messages[: len(request.messages) - request.new_turns]
        if self.replay and earlier_turns:
            earlier = "\n".join(f"{turn.role}: {turn.content}" for turn in earlier_turns)
            content = f"(Our conversation so far, from the journal:\n{earlier}\n)\n\n{content}"
        self.replay = False
        line = {"type": "user", "message": {"role": "user", "content": content}}
        return (json.dumps(line, ensure_ascii=False) + "\n").encode()

    def decode(self, line: bytes) -> list[ProcessEvent]:
        if not line.strip():
            return []
        try:
            event = json.loads(line)
        except ValueError:
            shown = line[:80].decode("utf-8", errors="replace")
            return [ProcessFailure(f"Claude Code wrote a line that is not JSON: {shown!r}")]
        if not isinstance(event, dict):
            return []
        kind = event.get("type")
        if kind == "system" and event.get("subtype") == "init":
            if self.announced:
                return []
            self.announced = True
            source = event.get("apiKeySource") or "unknown"
            return [
                ProcessLog(
                    f"Claude Code {event.get('claude_code_version', '')} session "
                    f"{event.get('session_id')}: API key source {source}"
                )
            ]
        if kind == "stream_event":
            return _text_delta(event.get("event"))
        if kind == "result" and event.get("num_turns") == 0 and event.get("is_error"):
            # it never ran: a session it could not resume, say; its exit follows
            return [ProcessLog(f"Claude Code did not start: {_errors(event)}")]
        if kind == "result":
            return [_result(event)]
        return []


def _text_delta(event: Any) -> list[ProcessEvent]:
    if not isinstance(event, dict) or event.get("type") != "content_block_delta":
        return []
    delta = event.get("delta")
    if isinstance(delta, dict) and delta.get("type") == "text_delta":
        return [TextDelta(text=str(delta.get("text", "")))]
    return []


def _errors(event: dict[str, Any]) -> str:
    errors = event.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(error) for error in errors)
    return str(event.get("result") or event.get("subtype") or "unknown error")


def _result(event: dict[str, Any]) -> ProcessEvent:
    text = str(event.get("result") or "")
    if event.get("is_error"):
        why = text or str(event.get("subtype") or "an error")
        kind, retryable = API_ERRORS.get(event.get("api_error_status"), ("bad_request", False))
        return ProcessFailure(f"Claude Code reported an error: {why}", kind, retryable)
    reported = event.get("usage")
    usage = reported if isinstance(reported, dict) else {}
    return StreamEnd(
        text=text,
        usage=Usage(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
        ),
        stop_reason=str(event.get("stop_reason") or "end_turn"),
        metadata={
            "session_id": event.get("session_id"),
            "total_cost_usd": event.get("total_cost_usd"),
            "is_error": False,
        },
    )


class ClaudeCodeProvider:
    """Claude through the user's own Claude Code login (see the module doc)."""

    name = "claude-code"
    default_model = "sonnet"
    process = True

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @classmethod
    def credential_status(cls, settings: Settings) -> CredentialStatus:
        claude = find_claude(settings)
        if claude is None:
            return CredentialStatus(
                provider=cls.name, source="Claude Code CLI", present=False, detail=INSTALL_HINT
            )
        status = auth_status(claude)
        if not status.logged_in:
            detail = f"{claude}: not logged in ({status.problem}); {LOGIN_HINT}"
            return CredentialStatus(
                provider=cls.name, source="Claude Code login", present=False, detail=detail
            )
        how = ", ".join(part for part in (status.method, status.api_key_source) if part)
        source = f"Claude Code login ({how or 'logged in'})"
        return CredentialStatus(provider=cls.name, source=source, present=True, detail=claude)

    def validate(self) -> None:
        """Raise `AuthError` unless the CLI is there (its login is checked per agent, in
        `check`, since an agent may keep an API key instead)."""
        self._claude()

    def protocol(self, model: str) -> ProcessProtocol:
        return ClaudeCodeProtocol()

    def check(self, spec: AgentSpec) -> None:
        """At spawn: raise `AuthError` unless the CLI is there and can sign in for this agent
        (its own login, or a key the agent keeps)."""
        claude = self._claude()
        if any(os.environ.get(name) for name in spec.claude_code.keep_env):
            return
        status = auth_status(claude)
        if not status.logged_in:
            raise AuthError(f"Claude Code is not logged in ({status.problem})", hint=LOGIN_HINT)

    def command(self, spec: AgentSpec, resume: str | None = None) -> ProcessCommand:
        """The CLI's arguments for this agent, resuming ``resume`` if given."""
        claude, options = self._claude(), spec.claude_code
        argv = [
            claude,
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--model",
            spec.model or self.default_model,
            "--permission-mode",
            options.permission_mode,
        ]
        if spec.system:
            argv += ["--append-system-prompt", spec.system]
        if options.allowed_tools:
            argv += ["--allowedTools", ",".join(options.allowed_tools)]
        if options.max_budget_usd is not None:
            argv += ["--max-budget-usd", f"{options.max_budget_usd:g}"]
        if resume:
            argv += ["--resume", resume]
        unset = tuple(name for name in CREDENTIAL_VARIABLES if name not in options.keep_env)
        return ProcessCommand(argv=tuple(argv), cwd=spec.cwd, env=dict(QUIET), unset=unset)

    def _claude(self) -> str:
        claude = find_claude(self._settings)
        if claude is None:
            raise AuthError("the Claude Code CLI was not found", hint=INSTALL_HINT)
        return claude
