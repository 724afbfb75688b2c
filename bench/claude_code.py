"""Claude Code agents: the real CLI (bundled in the claude-agent-sdk wheel) through the Runtime
against the same CLI driven straight through its pipes.

One fake LLM server (tests.fakes.fake_llm) on 127.0.0.1 stands in for Anthropic's API; the CLI
is "logged in" with a dummy long-lived OAuth token (``CLAUDE_CODE_OAUTH_TOKEN``), as on a
subscription, with ``HOME`` and ``CLAUDE_CONFIG_DIR`` in a temporary directory. Each reply is
``You said: ...``, streamed word by word, its deltas 2 ms apart. In the same run:

- start to ready: ``runtime.spawn()`` of a new agent (until Spawned: the actor and its CLI
  started), and from the spawn to the first text delta of its first turn (a cold start),
  against ``Popen`` of the CLI with its first user line written at once, until its first
  ``text_delta`` stream event; each agent is shut down and each CLI closed afterwards;
- time to first token, warm: ``runtime.send()`` to one long-lived agent until its first
  `TurnDelta`, against writing a user line to one long-lived CLI until its first
  ``text_delta`` (both read to the turn's end), alternating;
- memory: RSS and PSS of the agent's actor process and of its CLI, idle after two turns, and of
  the directly driven CLI.

Target: the Runtime adds at most 5 ms to the median warm first token.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench._common import Stats, alternate, ms, private_daemon, verdict

TARGET_ADDED = 0.005
COLD = 5
ROUNDS = 4
PER_ROUND = 5
WARMUP = 2
TAG = "[[fake:delay=0.002]]"  # before each streamed delta, so that the first travels alone
TURN_TIMEOUT = 60.0
IDLE = 1.0  # seconds to let both processes settle before their memory is read
CREDENTIAL_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def _command(claude: Path) -> list[str]:
    """The CLI's arguments, as the claude-code provider gives them to an agent."""
    return [
        *(str(claude), "-p", "--input-format", "stream-json", "--output-format", "stream-json"),
        *("--verbose", "--include-partial-messages", "--model", "sonnet"),
        *("--permission-mode", "plan"),
    ]


def _question(index: int) -> tuple[str, str]:
    """A user message and the fake's answer to it."""
    return f"question {index} {TAG}", f"You said: question {index}"


def _is_text_delta(line: Mapping[str, Any]) -> bool:
    event = line.get("event") if line.get("type") == "stream_event" else None
    return (
        isinstance(event, dict)
        and event.get("type") == "content_block_delta"
        and event.get("delta", {}).get("type") == "text_delta"
    )


class DirectCli:
    """One Claude Code CLI driven straight through its pipes, one user line per turn."""

    def __init__(self, claude: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            _command(claude),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.buffer = b""
        self.turns = 0

    def turn(self) -> tuple[float, float]:
        """Say the next question; when its first text delta and its result line came."""
        text, expected = _question(self.turns)
        self.turns += 1
        line = {"type": "user", "message": {"role": "user", "content": text}}
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(line) + "\n").encode())
        self.process.stdin.flush()
        deadline = time.perf_counter() + TURN_TIMEOUT
        first = None
        while True:
            event = self._line(deadline)
            if first is None and _is_text_delta(event):
                first = time.perf_counter()
            elif event.get("type") == "result":
                end = time.perf_counter()
                if event.get("is_error") or event.get("result") != expected or first is None:
                    raise RuntimeError(f"unexpected result line {event}")
                return first, end

    def _line(self, deadline: float) -> dict[str, Any]:
        """The next stdout line's JSON ({} for a blank line)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"the CLI said nothing for {TURN_TIMEOUT:g} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"the CLI exited with {self.process.wait()}")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line) if line.strip() else {}

    def close(self) -> None:
        """Close its stdin and wait for it to exit; kill it if it does not."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()


def _runtime_turn(runtime: Any, agent: str, index: int) -> tuple[float, float]:
    """Say question ``index`` to ``agent``; when its first `TurnDelta` and its end came."""
    from orchestration.messages import TurnDelta, TurnFailed, TurnFinished

    text, expected = _question(index)
    first = None
    for event in runtime.send(agent, text):
        if isinstance(event, TurnDelta):
            first = first or time.perf_counter()
        elif isinstance(event, TurnFailed):
            raise RuntimeError(f"{agent}'s turn failed: {event.kind}: {event.error}")
        elif isinstance(event, TurnFinished) and event.message.content != expected:
            raise RuntimeError(f"unexpected reply {event.message.content!r}")
    if first is None:
        raise RuntimeError(f"{agent}'s turn ended without a text delta")
    return first, time.perf_counter()


def _memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of a process, in kB."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Rss", "Pss"):
            fields[key] = int(value.split()[0])
    return fields["Rss"], fields["Pss"]


def _mib(kb: int) -> str:
    return f"{kb / 1024:6.1f} MiB"


def main() -> None:
    from tests.fakes.fake_llm import FakeLLMServer
    from tests.support import CLAUDE, QUIET_CLI

    print("claude_code: Claude Code agents through the Runtime vs the CLI driven directly")
    with tempfile.TemporaryDirectory(prefix="orch-bench-claude-") as tmp, FakeLLMServer() as fake:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        (home / "config").mkdir(parents=True)
        work.mkdir()
        subscribed = {
            "ORCH_CLAUDE_PATH": str(CLAUDE),
            "HOME": str(home),
            "CLAUDE_CONFIG_DIR": str(home / "config"),
            "ANTHROPIC_BASE_URL": fake.url,
            "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-bench",
            **QUIET_CLI,
        }
        with private_daemon(subscribed) as runtime:
            # os.environ is now the daemon's: the agents' CLIs get it without these variables
            env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
            started = time.perf_counter()
            subprocess.run([CLAUDE, "auth", "status"], env=env, capture_output=True, check=True)
            auth = time.perf_counter() - started

            spawn: list[float] = []
            runtime_cold: list[float] = []

            def cold_agent() -> list[float]:
                name = f"cold-{len(spawn)}"
                start = time.perf_counter()
                runtime.spawn(name, provider="claude-code", model="sonnet", cwd=str(work))
                spawn.append(time.perf_counter() - start)
                first, _ = _runtime_turn(runtime, name, 0)
                runtime_cold.append(first - start)
                runtime.shutdown(name)
                return []

            def cold_cli() -> list[float]:
                start = time.perf_counter()
                cli = DirectCli(CLAUDE, env, work)
                try:
                    first, _ = cli.turn()
                finally:
                    cli.close()
                return [first - start]

            cold = alternate(COLD, {"direct": cold_cli, "runtime": cold_agent})

            spawned = runtime.spawn("warm", provider="claude-code", model="sonnet", cwd=str(work))
            direct = DirectCli(CLAUDE, env, work)
            try:
                turns = {"direct": 0, "runtime": 0}
                totals: dict[str, list[float]] = {"direct": [], "runtime": []}

                def warm_agent(count: int) -> list[float]:
                    firsts = []
                    for _ in range(count):
                        start = time.perf_counter()
                        first, end = _runtime_turn(runtime, "warm", turns["runtime"])
                        turns["runtime"] += 1
                        firsts.append(first - start)
                        totals["runtime"].append(end - start)
                    return firsts

                def warm_cli(count: int) -> list[float]:
                    firsts = []
                    for _ in range(count):
                        start = time.perf_counter()
                        first, end = direct.turn()
                        firsts.append(first - start)
                        totals["direct"].append(end - start)
                    return firsts

                warm_agent(WARMUP)
                warm_cli(WARMUP)
                time.sleep(IDLE)
                [info] = [a for a in runtime.list() if a.spec.name == "warm"]
                assert info.pid and info.process_pid == spawned.agent.process_pid
                memory = {
                    "agent's actor process": _memory(info.pid),
                    "agent's CLI": _memory(info.process_pid),
                    "CLI driven directly": _memory(direct.process.pid),
                }
                for series in totals.values():
                    series.clear()
                warm = alternate(
                    ROUNDS,
                    {
                        "direct": lambda: warm_cli(PER_ROUND),
                        "runtime": lambda: warm_agent(PER_ROUND),
                    },
                )
            finally:
                direct.close()
            requests = len(fake.requests)

    print(f"  ({requests} requests served; `claude auth status` alone took {ms(auth).strip()})")
    print("start to ready (cold start: a new agent / a new CLI, to its first text delta):")
    print(Stats.of(spawn).row("runtime.spawn (actor + CLI started)", tails=False))
    print(Stats.of(runtime_cold).row("runtime: spawn to first text delta", tails=False))
    print(Stats.of(cold["direct"]).row("direct: Popen to first text_delta", tails=False))
    ratio = Stats.of(runtime_cold).median / Stats.of(cold["direct"]).median
    print(f"  the Runtime's cold start is {ratio:.2f}x the direct CLI's (median)")
    print("time to first token, warm (one long-lived agent / CLI):")
    print(Stats.of(warm["direct"]).row("direct: user line to first text_delta"))
    print(Stats.of(warm["runtime"]).row("runtime.send to first TurnDelta"))
    print("whole turn (to the result line / TurnFinished):")
    print(Stats.of(totals["direct"]).row("direct", tails=False))
    print(Stats.of(totals["runtime"]).row("runtime", tails=False))
    direct_first, via_first = Stats.of(warm["direct"]), Stats.of(warm["runtime"])
    added = via_first.median - direct_first.median
    print(
        f"  the Runtime adds {ms(added).strip()} to the median first token "
        f"({via_first.median / direct_first.median:.2f}x direct); target <= "
        f"{TARGET_ADDED * 1e3:g} ms  {verdict(added <= TARGET_ADDED)}"
    )
    print(f"memory, idle after {WARMUP} turns:")
    for label, (rss, pss) in memory.items():
        print(f"  {label:<44} RSS {_mib(rss)}  PSS {_mib(pss)}")
    agent_pss = memory["agent's actor process"][1] + memory["agent's CLI"][1]
    print(
        f"  one agent (actor + CLI) takes {agent_pss / memory['CLI driven directly'][1]:.2f}x "
        "the PSS of the CLI alone"
    )


if __name__ == "__main__":
    main()
