"""The ``command`` provider: any command-line program as an agent, over stdin and stdout.

The agent's process is started once, from ``--command`` (an argument list, never a shell
string), and lives as long as the agent. Each turn writes one line to its stdin and reads its
stdout line by line until the turn ends. The model string picks the wire protocol:
``command:jsonl`` (the default) or ``command:lines``.

``jsonl``: one JSON object per line, both ways
-----------------------------------------------

In: each turn is one line (UTF-8, ending in a newline)::

    {"type":"turn","content":"<the new message>","messages":[{"role":"user","content":"..."},
     ...],"system":"<the system prompt>"}

``content`` is the new message; ``messages`` is the whole history, oldest first, ending with it
(roles are ``user`` and ``assistant``).

Out: every stdout line must be one JSON object (UTF-8) whose ``type`` is one of:

- ``{"type":"delta","text":"..."}``: a piece of the reply, in order.
- ``{"type":"final"}``: the turn is over. An optional ``"text"`` gives the full reply (without
  it the reply is the deltas joined); an optional
  ``"usage":{"input_tokens":N,"output_tokens":M}`` reports token counts.
- ``{"type":"error","error":"..."}``: the turn failed with this message.

Blank lines are ignored. Anything else fails the turn: a line that is not JSON, not an object,
has no or an unknown ``type``, a field of the wrong type, is not UTF-8, or is longer than
`MAX_LINE_BYTES`. A turn has no time limit of its own; it ends only with ``final`` or ``error``.

``lines``: plain text
---------------------

In: the new message on one line, its line breaks replaced by spaces, then a newline (UTF-8).

Out: every stdout line is a line of the reply. The turn ends when the program prints the
sentinel line ``<<<END>>>`` (a trailing carriage return is ignored), or after 2 seconds of
silence. The reply is its lines joined with newlines. Both are set in the model string:
``command:lines?end=DONE&idle=0.5``. Bytes that are not UTF-8 are replaced, not refused; only a
line longer than `MAX_LINE_BYTES` fails the turn.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl

from orchestration.messages import AgentSpec, Usage
from orchestration.providers.base import (
    BadRequestError,
    CredentialStatus,
    ProviderRequest,
    StreamEnd,
    TextDelta,
)
from orchestration.providers.program import (
    MAX_LINE_BYTES,
    ProcessCommand,
    ProcessEvent,
    ProcessFailure,
    ProcessProtocol,
    check_program,
    new_input,
)
from orchestration.settings import Settings

__all__ = ["CommandProvider", "JsonlProtocol", "LinesProtocol", "protocol_for"]

CHOICES = "jsonl, lines, lines?end=SENTINEL&idle=SECONDS"
JSONL_SHAPE = (
    "the jsonl protocol expects one JSON object per line with type delta|final|error, "
    'e.g. {"type":"delta","text":"Hi"}'
)
QUOTE_CHARS = 80


def _quote(line: bytes) -> str:
    text = line.decode("utf-8", errors="replace")
    return repr(text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…")


def _overlong(line: bytes) -> ProcessFailure | None:
    if len(line) <= MAX_LINE_BYTES:
        return None
    return ProcessFailure(
        f"the process wrote a line of {len(line)} bytes, more than the {MAX_LINE_BYTES} allowed"
    )


class _WrongField(ValueError):
    """A jsonl event lacks a field or has one of the wrong type."""


_MISSING: Any = object()
JSON_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


def _json_type(value: object) -> str:
    return "null" if value is None else JSON_NAMES.get(type(value), "a value")


def _field(event: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    """``event[key]`` if it is a ``kind`` (a bool is no integer), else ``default`` if absent."""
    if key not in event:
        if default is _MISSING:
            raise _WrongField(f'has no "{key}" ({JSON_NAMES[kind]} is required)')
        return default
    value = event[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _WrongField(f'has {_json_type(value)} as "{key}", not {JSON_NAMES[kind]}')
    return value


def _usage(event: dict[str, Any]) -> Usage:
    counts = _field(event, "usage", dict, {})
    return Usage(
        input_tokens=_field(counts, "input_tokens", int, 0),
        output_tokens=_field(counts, "output_tokens", int, 0),
    )


class JsonlProtocol(ProcessProtocol):
    """One JSON object per line in both directions (see the module docstring)."""

    idle_timeout = None

    def __init__(self) -> None:
        self._text: list[str] = []

    def encode(self, request: ProviderRequest) -> bytes:
        """The turn line; starts a new turn."""
        self._text = []
        turn = {
            "type": "turn",
            "content": new_input(request),
            "messages": [{"role": t.role, "content": t.content} for t in request.messages],
            "system": request.system,
        }
        return json.dumps(turn, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

    def decode(self, line: bytes) -> list[ProcessEvent]:
        """A delta, the end of the turn, or a failure naming what was wrong with the line."""
        if failure := _overlong(line):
            return [failure]
        if not line.strip():
            return []
        try:
            event = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            return [self._bad(line, "is not UTF-8")]
        except json.JSONDecodeError as error:
            return [self._bad(line, f"is not JSON ({error.msg})")]
        if not isinstance(event, dict):
            return [self._bad(line, f"is JSON but {_json_type(event)}, not an object")]
        try:
            return self._event(event)
        except _WrongField as problem:
            return [self._bad(line, str(problem))]

    def _event(self, event: dict[str, Any]) -> list[ProcessEvent]:
        kind = event.get("type")
        if kind == "delta":
            text = _field(event, "text", str)
            self._text.append(text)
            return [TextDelta(text=text)]
        if kind == "final":
            text = _field(event, "text", str, "".join(self._text))
            return [StreamEnd(text=text, usage=_usage(event), stop_reason="end_turn")]
        if kind == "error":
            return [ProcessFailure(f"the process reported an error: {_field(event, 'error', str)}")]
        if kind is None:
            raise _WrongField('has no "type"')
        raise _WrongField(f'has an unknown "type" {kind!r}')

    @staticmethod
    def _bad(line: bytes, problem: str) -> ProcessFailure:
        return ProcessFailure(
            f"the process wrote a line that {problem}: {_quote(line)}; {JSONL_SHAPE}"
        )


class LinesProtocol(ProcessProtocol):
    """Plain text: one line in, reply lines out until a sentinel line or silence."""

    def __init__(self, end: str = "<<<END>>>", idle: float = 2.0) -> None:
        self.end = end
        self.idle_timeout = idle
        self._text: list[str] = []

    def encode(self, request: ProviderRequest) -> bytes:
        """The new message flattened to one line; starts a new turn."""
        self._text = []
        flat = new_input(request).replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
        return flat.encode() + b"\n"

    def decode(self, line: bytes) -> list[ProcessEvent]:
        """A reply line as a delta, or the end of the turn at the sentinel."""
        if failure := _overlong(line):
            return [failure]
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        if text == self.end:
            return [self._end("end_turn")]
        self._text.append(text + "\n")
        return [TextDelta(text=text + "\n")]

    def idle_end(self) -> list[ProcessEvent]:
        """The reply so far, ended by silence."""
        return [self._end("idle")]

    def _end(self, reason: str) -> StreamEnd:
        return StreamEnd(text="".join(self._text).removesuffix("\n"), stop_reason=reason)


def protocol_for(model: str) -> ProcessProtocol:
    """The protocol a command agent's model string names; `BadRequestError` if it names none."""
    name, _, query = model.partition("?")
    if model == "jsonl":
        return JsonlProtocol()
    if name != "lines":
        raise _bad_model(model, "unknown command protocol")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - {"end", "idle"})
    if unknown:
        raise _bad_model(model, f"unknown option {', '.join(unknown)} in command protocol")
    end = options.get("end", "<<<END>>>")
    if not end:
        raise _bad_model(model, "empty end sentinel in command protocol")
    return LinesProtocol(end=end, idle=_idle(options.get("idle", "2"), model))


def _idle(value: str, model: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise _bad_model(model, f"idle={value!r} is not a positive number of seconds in")
    return seconds


def _bad_model(model: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{problem} {model!r}; use one of: {CHOICES}")


class CommandProvider:
    """Runs the agent's ``--command`` as a long-lived process speaking `protocol_for(model)`."""

    name = "command"
    default_model = "jsonl"
    process = True

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @classmethod
    def credential_status(cls, settings: Settings) -> CredentialStatus:
        return CredentialStatus(
            provider=cls.name,
            source="none needed (runs your command)",
            present=True,
            detail="local process",
        )

    def validate(self) -> None:
        """Nothing to check here: the command itself is checked when the agent is spawned."""

    def protocol(self, model: str) -> ProcessProtocol:
        """The wire protocol the model string names."""
        return protocol_for(model)

    def check(self, spec: AgentSpec) -> None:
        """At spawn: raise `BadRequestError` unless the program can run (see `check_program`)."""
        check_program(self.command(spec))

    def command(self, spec: AgentSpec, resume: str | None = None) -> ProcessCommand:
        """How to start the agent's process: its ``command`` in its ``cwd``. (A program keeps
        its own state, so there is no session to resume.)"""
        if not spec.command:
            raise BadRequestError("a command agent needs --command")
        return ProcessCommand(argv=spec.command, cwd=spec.cwd)
