"""The command provider's wire protocols, on bytes alone: jsonl, lines, and choosing one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestration.messages import AgentSpec, Usage
from orchestration.providers.base import (
    BadRequestError,
    ChatTurn,
    ProviderRequest,
    StreamEnd,
    TextDelta,
)
from orchestration.providers.command import (
    CommandProvider,
    JsonlProtocol,
    LinesProtocol,
    protocol_for,
)
from orchestration.providers.program import MAX_LINE_BYTES, ProcessCommand, ProcessFailure
from orchestration.settings import Settings


def request(*contents: str, system: str = "") -> ProviderRequest:
    roles = ("user", "assistant")
    turns = tuple(
        ChatTurn(role=roles[i % 2], content=content) for i, content in enumerate(contents)
    )
    return ProviderRequest(model="jsonl", messages=turns, system=system)


def failure_message(events: list[object]) -> str:
    assert len(events) == 1 and isinstance(events[0], ProcessFailure), events
    return events[0].message


# --- jsonl -------------------------------------------------------------------------------------


def test_jsonl_encodes_a_turn_as_one_compact_json_line() -> None:
    line = JsonlProtocol().encode(request("hi", "hello", "ça va?", system="be brief"))

    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b", " not in line and "ça va?".encode() in line
    assert json.loads(line) == {
        "type": "turn",
        "content": "ça va?",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "ça va?"},
        ],
        "system": "be brief",
    }


def test_jsonl_deltas_then_a_final_without_text_give_the_joined_deltas() -> None:
    protocol = JsonlProtocol()
    protocol.encode(request("hi"))

    first = protocol.decode(b'{"type":"delta","text":"Hel"}')
    second = protocol.decode(b'{"type":"delta","text":"lo"}')
    end = protocol.decode(b'{"type":"final"}')

    assert first == [TextDelta(text="Hel")]
    assert second == [TextDelta(text="lo")]
    assert end == [StreamEnd(text="Hello", stop_reason="end_turn")]


def test_jsonl_final_text_wins_over_the_deltas() -> None:
    protocol = JsonlProtocol()
    protocol.encode(request("hi"))
    protocol.decode(b'{"type":"delta","text":"draft"}')

    assert protocol.decode(b'{"type":"final","text":"Clean"}') == [StreamEnd(text="Clean")]


def test_jsonl_final_maps_usage() -> None:
    line = b'{"type":"final","text":"ok","usage":{"input_tokens":12,"output_tokens":3}}'

    [end] = JsonlProtocol().decode(line)

    assert end == StreamEnd(text="ok", usage=Usage(input_tokens=12, output_tokens=3))


def test_jsonl_error_line_fails_the_turn_with_its_message() -> None:
    events = JsonlProtocol().decode(b'{"type":"error","error":"quota exceeded"}')

    assert failure_message(events) == "the process reported an error: quota exceeded"


def test_jsonl_ignores_blank_lines() -> None:
    assert JsonlProtocol().decode(b"") == []
    assert JsonlProtocol().decode(b"  \r") == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"hello there", "is not JSON"),
        (b"[1, 2]", "is JSON but an array, not an object"),
        (b'"text"', "is JSON but a string, not an object"),
        (b'{"text":"hi"}', 'has no "type"'),
        (b'{"type":"chunk","text":"hi"}', "has an unknown \"type\" 'chunk'"),
        (b'{"type":"delta"}', 'has no "text"'),
        (b'{"type":"delta","text":5}', 'has an integer as "text", not a string'),
        (b'{"type":"final","text":null}', 'has null as "text", not a string'),
        (b'{"type":"final","usage":{"input_tokens":"9"}}', '"input_tokens", not an integer'),
        (b'{"type":"final","usage":{"output_tokens":true}}', '"output_tokens", not an integer'),
        (b'{"type":"error"}', 'has no "error"'),
        (b"\xff\xfe{}", "is not UTF-8"),
    ],
)
def test_jsonl_bad_lines_fail_the_turn_saying_what_is_wrong(line: bytes, problem: str) -> None:
    message = failure_message(JsonlProtocol().decode(line))

    assert problem in message
    assert "one JSON object per line with type delta|final|error" in message


def test_jsonl_failure_quotes_only_the_start_of_a_long_bad_line() -> None:
    message = failure_message(JsonlProtocol().decode(b"x" * 500))

    assert "'" + "x" * 80 + "…'" in message
    assert "x" * 81 not in message


def test_jsonl_overlong_line_fails_the_turn() -> None:
    line = b'{"type":"delta","text":"' + b"a" * MAX_LINE_BYTES + b'"}'

    message = failure_message(JsonlProtocol().decode(line))

    assert f"more than the {MAX_LINE_BYTES} allowed" in message


def test_jsonl_a_new_turn_forgets_the_last_turns_deltas() -> None:
    protocol = JsonlProtocol()
    protocol.encode(request("one"))
    protocol.decode(b'{"type":"delta","text":"first reply"}')
    protocol.decode(b'{"type":"final"}')

    protocol.encode(request("one", "first reply", "two"))
    protocol.decode(b'{"type":"delta","text":"second"}')

    assert protocol.decode(b'{"type":"final"}') == [StreamEnd(text="second")]


def test_jsonl_has_no_idle_rule() -> None:
    assert JsonlProtocol().idle_timeout is None


# --- lines -------------------------------------------------------------------------------------


def test_lines_reply_lines_are_deltas_until_the_sentinel_ends_the_turn() -> None:
    protocol = LinesProtocol()
    protocol.encode(request("hi"))

    deltas = [*protocol.decode(b"Hello"), *protocol.decode(b""), *protocol.decode(b"bye\r")]
    end = protocol.decode(b"<<<END>>>\r")

    assert deltas == [TextDelta(text="Hello\n"), TextDelta(text="\n"), TextDelta(text="bye\n")]
    assert end == [StreamEnd(text="Hello\n\nbye", stop_reason="end_turn")]


def test_lines_sentinel_can_be_chosen() -> None:
    protocol = LinesProtocol(end="DONE")
    protocol.encode(request("hi"))

    assert protocol.decode(b"<<<END>>>") == [TextDelta(text="<<<END>>>\n")]
    assert protocol.decode(b"DONE") == [StreamEnd(text="<<<END>>>")]


def test_lines_silence_ends_the_turn_with_the_text_so_far() -> None:
    protocol = LinesProtocol(idle=0.5)
    protocol.encode(request("hi"))
    protocol.decode(b"one")
    protocol.decode(b"two")

    assert protocol.idle_timeout == 0.5
    assert protocol.idle_end() == [StreamEnd(text="one\ntwo", stop_reason="idle")]


def test_lines_a_new_turn_forgets_the_last_turns_text() -> None:
    protocol = LinesProtocol()
    protocol.encode(request("one"))
    protocol.decode(b"old")
    protocol.encode(request("one", "old", "two"))

    assert protocol.decode(b"<<<END>>>") == [StreamEnd(text="")]


def test_lines_encodes_the_last_message_flattened_to_one_line() -> None:
    line = LinesProtocol().encode(request("earlier", "reply", "a\r\nb\nc\rd é"))

    assert line == "a b c d é\n".encode()


def test_lines_tolerates_bytes_that_are_not_utf8() -> None:
    protocol = LinesProtocol()
    protocol.encode(request("hi"))

    assert protocol.decode(b"caf\xe9") == [TextDelta(text="caf\ufffd\n")]


def test_lines_overlong_line_fails_the_turn() -> None:
    message = failure_message(LinesProtocol().decode(b"a" * (MAX_LINE_BYTES + 1)))

    assert f"more than the {MAX_LINE_BYTES} allowed" in message


# --- choosing a protocol -----------------------------------------------------------------------


def test_protocol_for_names_jsonl_and_lines_with_their_defaults() -> None:
    lines = protocol_for("lines")

    assert isinstance(protocol_for("jsonl"), JsonlProtocol)
    assert isinstance(lines, LinesProtocol)
    assert (lines.end, lines.idle_timeout) == ("<<<END>>>", 2.0)


def test_protocol_for_reads_the_lines_options() -> None:
    lines = protocol_for("lines?end=DONE&idle=0.5")

    assert isinstance(lines, LinesProtocol)
    assert (lines.end, lines.idle_timeout) == ("DONE", 0.5)


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("json", "unknown command protocol 'json'"),
        ("", "unknown command protocol ''"),
        ("jsonl?idle=1", "unknown command protocol 'jsonl?idle=1'"),
        ("lines?idle=0", "idle='0'"),
        ("lines?idle=-1", "idle='-1'"),
        ("lines?idle=soon", "idle='soon'"),
        ("lines?idle=inf", "idle='inf'"),
        ("lines?end=", "empty end sentinel"),
        ("lines?stop=DONE", "unknown option stop"),
    ],
)
def test_protocol_for_refuses_bad_model_strings(model: str, problem: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        protocol_for(model)

    assert problem in str(raised.value)
    assert "lines?end=SENTINEL&idle=SECONDS" in str(raised.value)


# --- the provider ------------------------------------------------------------------------------


def test_the_provider_needs_no_credentials_and_builds_the_command(tmp_path: Path) -> None:
    provider = CommandProvider(Settings(home=tmp_path))

    provider.validate()

    assert CommandProvider.credential_status(Settings(home=tmp_path)).present
    assert isinstance(provider.protocol("lines"), LinesProtocol)
    spec = AgentSpec(
        name="tool", provider="command", model="jsonl", command=("my-agent", "--fast"), cwd="/tmp"
    )
    assert provider.command(spec) == ProcessCommand(argv=("my-agent", "--fast"), cwd="/tmp")


def test_the_provider_refuses_an_empty_command(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match="a command agent needs --command"):
        CommandProvider(Settings(home=tmp_path)).command(
            AgentSpec(name="tool", provider="command", model="jsonl")
        )
