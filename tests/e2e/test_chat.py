"""``orchestration chat`` as a user runs it: piped lines, real providers behind a fake server,
and Ctrl-C in the middle of a streamed reply."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from orchestration.processes.pids import pid_alive
from tests.e2e.conftest import Cli
from tests.fakes.fake_llm import FakeLLMServer
from tests.support import CLAUDE, QUIET_CLI

OFFLINE_HINT = "offline: assistant runs on the scripted provider"


def test_first_chat_starts_the_daemon_and_echoes_offline(cli: Cli) -> None:
    assert cli("status").code == 1, "no daemon should run before the first command"

    chat = cli(
        "chat",
        input="hello there\nhow are you?\nthird line\n/history\n/quit\nnever sent\n",
    )

    assert chat.code == 0, chat
    assert f"started the orchestration daemon on port {cli.port}" in chat.stderr
    assert "chatting with assistant on scripted:echo" in chat.stderr
    assert chat.stderr.count(OFFLINE_HINT) == 1, "the offline hint is said once per session"
    assert "ANTHROPIC_API_KEY" in chat.stderr
    replies, _, history = chat.stdout.partition("You said: third line\n")
    assert replies.splitlines() == ["You said: hello there", "You said: how are you?"]
    said = [line.split(" ", 1)[1] for line in history.splitlines()]
    assert said == [
        "user: hello there",
        "assistant: You said: hello there",
        "user: how are you?",
        "assistant: You said: how are you?",
        "user: third line",
        "assistant: You said: third line",
    ]
    assert "never sent" not in chat.stdout, "/quit ends the session"

    status = cli("status", "--json").json()
    assert status["running"] and pid_alive(status["pid"]), "the daemon outlives the chat"

    again = cli("chat", input="back again\n/history\n")  # ends with EOF, as Ctrl-D does

    assert again.code == 0, again
    assert "started the orchestration daemon" not in again.stderr, "it attaches to the daemon"
    assert again.stderr.count(OFFLINE_HINT) == 1
    assert again.stdout.startswith("You said: back again\n")
    assert "user: hello there" in again.stdout, "the earlier session's history is kept"
    assert again.stdout.rstrip().endswith("assistant: You said: back again")


PROVIDERS = {
    "anthropic": lambda fake: {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": fake.url},
    "openai": lambda fake: {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": fake.openai_url},
}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_chat_talks_to_the_provider_whose_credentials_are_set(
    cli: Cli, fake_llm: FakeLLMServer, provider: str
) -> None:
    cli.env.update(PROVIDERS[provider](fake_llm))

    chat = cli("chat", input="Bonjour [[fake:reply=Salut from the fake model]]\nand then?\n")

    assert chat.code == 0, chat
    [agent] = cli("list", "--json").json()
    assert (agent["name"], agent["provider"]) == ("assistant", provider)
    assert f"chatting with assistant on {provider}:{agent['model']}" in chat.stderr
    assert "offline" not in chat.stderr
    assert chat.stdout.splitlines() == ["Salut from the fake model", "You said: and then?"]
    first, second = fake_llm.requests
    assert first.api == second.api == provider
    assert second.auth == "bearer" and second.credential == "sk-test"
    assert second.model == agent["model"] and second.stream
    assert second.messages == [
        ("user", "Bonjour [[fake:reply=Salut from the fake model]]"),
        ("assistant", "Salut from the fake model"),
        ("user", "and then?"),
    ]


def test_ctrl_c_cancels_the_streamed_reply_and_the_session_goes_on(cli: Cli) -> None:
    chat = cli.session("chat")
    chat.wait_stderr("chatting with assistant")
    story = " ".join(f"word{i}" for i in range(1, 41))  # 40 words, 0.2 s apart: 8 s in all

    chat.say(f"tell me a long story [[scripted: delay=0.2; reply={story}]]")
    chat.wait_stdout("word1 ")
    chat.process.send_signal(signal.SIGINT)

    chat.wait_stderr("(turn cancelled)")
    cut = len(chat.stdout)
    assert "word40" not in chat.stdout, "the reply went on after Ctrl-C"
    chat.say("are you still there?")
    chat.wait_stdout("You said: are you still there?\n", after=cut)
    chat.say("/history")
    chat.wait_stdout("assistant: You said: are you still there?", after=cut)
    chat.say("/quit")

    assert chat.finish() == 0, chat.stderr
    assert "turn failed (cancelled)" in chat.stdout, "the journal records the cancelled turn"
    assert "Traceback" not in chat.stderr


def test_an_oversized_line_in_chat_is_refused_and_the_session_goes_on(cli: Cli) -> None:
    chat = cli("chat", input="first\n" + "x" * 50 + "\nthird\n", ORCH_MAX_MESSAGE_CHARS="40")

    assert "the limit is 40" in chat.stderr
    assert chat.stdout.splitlines() == ["You said: first", "You said: third"]
    assert chat.code == 0


def test_chat_talks_to_claude_on_the_subscription_when_claude_code_is_logged_in(
    cli: Cli, fake_llm: FakeLLMServer, tmp_path: Path
) -> None:
    """The Claude Code CLI logged in (a long-lived OAuth token stands in for a Pro or Max
    login here) wins over an API key: chat runs on claude-code, and the request carries the
    subscription's token, not the key."""
    (tmp_path / "claude-config").mkdir()
    subscribed = {
        "ORCH_CLAUDE_PATH": str(CLAUDE),
        "HOME": str(tmp_path),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude-config"),
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-test",
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "ANTHROPIC_BASE_URL": fake_llm.url,
        **QUIET_CLI,
    }

    chat = cli("chat", input="hello claude\n/quit\n", **subscribed)

    assert chat.code == 0, chat
    assert "chatting with assistant on claude-code:sonnet" in chat.stderr
    assert "claude-code is the default provider: found Claude Code login (oauth_token)" in (
        chat.stderr
    )
    assert chat.stdout == "You said: hello claude\n"
    [request] = fake_llm.requests
    assert request.headers["authorization"] == "Bearer sk-ant-oat01-test"
    assert "x-api-key" not in request.headers, "the API key was withheld from the CLI"
