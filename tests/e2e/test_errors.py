"""What a user sees when something is wrong: one ``error:`` line naming the problem, one line
with the fix, a non-zero exit, and nothing already said lost."""

from __future__ import annotations

import socket

from tests.e2e.conftest import Cli, Result
from tests.fakes.fake_llm import FakeLLMServer


def refusal(result: Result) -> tuple[str, str]:
    """The error line and the hint line of a refused command (and check that is all it said)."""
    assert result.code != 0, result
    lines = result.stderr_lines
    assert len(lines) == 2, f"expected an error line and a hint line:\n{result}"
    error, hint = lines
    assert error.startswith("error: "), result
    assert hint.startswith("  ") and hint.strip(), result
    return error, hint.strip()


def test_mistakes_are_refused_with_the_fix_and_nothing_is_lost(cli: Cli) -> None:
    cli.env["ORCH_MAX_MESSAGE_CHARS"] = "50"  # the daemon's limit, and this shell's
    assert cli("spawn", "helper", "--provider", "scripted").code == 0
    assert cli("send", "helper", "remember the milk").code == 0

    error, hint = refusal(cli("send", "nobody", "hello?"))
    assert "no agent named 'nobody'" in error and "known agents: helper" in error
    assert "orchestration spawn" in hint

    error, hint = refusal(cli("chat", "nobody", input="hello?\n"))
    assert "no agent named 'nobody'" in error and "known agents: helper" in error

    error, hint = refusal(cli("spawn", "helper"))
    assert "'helper' already exists" in error
    assert "orchestration shutdown helper" in hint

    unknown = cli("spawn", "x", "--provider", "nope")
    assert unknown.code != 0 and unknown.stderr_lines[0].startswith("error: ")
    assert "unknown provider 'nope'" in unknown.stderr
    assert "anthropic, claude-code, command, openai, scripted" in unknown.stderr, (
        "the known providers are listed"
    )

    error, hint = refusal(cli("spawn", "x", "--provider", "anthropic"))
    assert "anthropic has no API key" in error
    assert "ANTHROPIC_API_KEY" in hint and "settings file" in hint, "says where it looks"
    error, hint = refusal(cli("spawn", "x", "--provider", "anthropic", ANTHROPIC_API_KEY="sk-x"))
    assert "orchestration down" in hint, "the shell has the key the daemon lacks: says so"

    for empty in ("", "   \n"):
        error, hint = refusal(cli("send", "helper", empty))
        assert "the message is empty" in error

    error, hint = refusal(cli("send", "helper", "x" * 60))
    assert "60 characters; the limit is 50" in error
    assert "ORCH_MAX_MESSAGE_CHARS" in hint
    larger_here = cli("send", "helper", "y" * 60, ORCH_MAX_MESSAGE_CHARS="1000")
    error, hint = refusal(larger_here)
    assert "the limit is 50" in error, "the daemon enforces its own limit too"

    assert [agent["name"] for agent in cli("list", "--json").json()] == ["helper"]
    history = cli("history", "helper", "--json").json()
    assert [m["content"] for m in history] == ["remember the milk", "You said: remember the milk"]


def test_an_unknown_provider_is_refused_with_a_hint(cli: Cli) -> None:
    error, _ = refusal(cli("spawn", "x", "--provider", "nope"))

    assert "unknown provider 'nope'" in error


def test_a_missing_credential_says_where_to_put_it_once(cli: Cli) -> None:
    error, hint = refusal(cli("spawn", "x", "--provider", "anthropic"))

    assert "ANTHROPIC_API_KEY" in hint
    assert hint not in error


def test_an_invalid_agent_name_is_refused_with_the_rule(cli: Cli) -> None:
    error, hint = refusal(cli("spawn", "Bad Name"))

    assert "'Bad Name'" in error and "not valid" in error
    assert "lowercase" in error + hint


def test_a_port_held_by_another_program_fails_fast_and_names_the_port(cli: Cli) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cli.port))
        squatter.listen()

        for command, stdin in ((("chat",), "hello\n"), (("list",), ""), (("up",), "")):
            result = cli(*command, input=stdin, timeout=10)  # the deadline to give up

            error, hint = refusal(result)
            assert f"admin port {cli.port} is held by a process" in error
            assert "ORCH_ADMIN_PORT" in hint

        status = cli("status", "--json")
        assert status.code == 1 and status.json()["running"] is False
    assert not (cli.home / "daemon.json").exists(), "no daemon was started"


def test_a_corrupt_journal_is_reported_and_left_untouched(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    journal = cli.home / "journal.db"
    garbage = b"this is not a SQLite database\n" * 200
    journal.write_bytes(garbage)

    for attempt in range(2):  # a second try says the same, not leftovers of the first
        error, hint = refusal(cli("chat", input="hello\n"))

        assert f"journal at {journal} is corrupt" in error, attempt
        assert hint.startswith("move it aside"), attempt
    assert journal.read_bytes() == garbage, "the journal was changed"
    assert cli("status").code == 1, "a daemon that could not boot is not left running"

    journal.rename(cli.home / "journal.db.corrupt")  # the fix the hint gives
    fresh = cli("chat", input="hello again\n")

    assert fresh.code == 0, fresh
    assert fresh.stdout == "You said: hello again\n"
    assert (cli.home / "journal.db.corrupt").read_bytes() == garbage


def test_provider_failures_fail_the_turn_and_say_why(cli: Cli, fake_llm: FakeLLMServer) -> None:
    cli.env.update(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=fake_llm.url)
    assert cli("spawn", "claude", "--provider", "anthropic").code == 0
    assert cli("send", "claude", "hello [[fake:reply=Hi there]]").stdout == "Hi there\n"

    error, hint = refusal(cli("send", "claude", "again [[fake:status=401]]"))
    assert "claude's turn failed (auth)" in error and "HTTP 401" in error
    assert "orchestration auth status" in hint
    before = len(fake_llm.requests)

    error, hint = refusal(cli("send", "claude", "busy [[fake:status=529]]"))
    assert "claude's turn failed (overloaded)" in error and "HTTP 529" in error
    assert "send it again" in hint
    assert len(fake_llm.requests) - before == 3, "the SDK retried twice before giving up"
    failed = cli("send", "claude", "busy again [[fake:status=529]]", "--json").json_lines()[-1]
    assert failed["type"] == "turn_failed"
    assert failed["kind"] == "overloaded" and failed["retryable"] is True

    assert cli("send", "claude", "still with me?").stdout == "You said: still with me?\n"
    history = cli("history", "claude", "--json").json()
    assert [m["event"] or m["sender"] for m in history] == [
        "user",
        "claude",
        "user",
        "turn_failed",
        "user",
        "turn_failed",
        "user",
        "turn_failed",
        "user",
        "claude",
    ]
    assert ("assistant", "Hi there") in fake_llm.requests[-1].messages, "the history went along"
