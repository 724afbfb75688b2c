"""Time to first token: a provider SDK called directly against the same call through the Runtime.

A fake LLM server (tests.fakes.fake_llm) on 127.0.0.1 streams a short reply, its deltas 1 ms
apart (so the first one travels on its own, as a real model's does), with Nagle's algorithm off
on its sockets (else a delta can wait 40 ms for a delayed ACK). In the same run, alternating:

- direct: the anthropic SDK's ``messages.create(stream=True)``, from the call to the first
  ``content_block_delta`` text;
- runtime: ``runtime.send()`` to an agent on provider ``anthropic`` (the daemon has
  ``ANTHROPIC_API_KEY``/``ANTHROPIC_BASE_URL`` pointing at the fake), from the call to the
  first `TurnDelta`;

and the same for the openai SDK against an agent on provider ``openai``. Both paths keep a
conversation that grows alike (the agent resends its history on every turn, so the direct client
does too). Every stream is read to its end. Target: the Runtime adds at most 5 ms (median).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench._common import Stats, alternate, ms, private_daemon, verdict

TARGET_ADDED = 0.005
ROUNDS = 5
PER_ROUND = 10
WARMUP = 5
REPLY = "Hello from the fake model: a short reply, streamed word by word to the caller."
MAX_TOKENS = 4096
DELTA_DELAY = 0.001  # before each streamed delta, so that the first one travels on its own


class Series:
    """First-token and whole-turn times of one path."""

    def __init__(self) -> None:
        self.first: list[float] = []
        self.total: list[float] = []
        self.late = 0  # turns whose first text came only with the turn's end

    def record(self, start: float, first: float | None, end: float) -> None:
        if first is None:
            raise RuntimeError("the stream ended without a text delta")
        self.first.append(first - start)
        self.total.append(end - start)


def _anthropic_direct(url: str, model: str) -> Callable[[Series, int], None]:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-bench", base_url=url, max_retries=2, timeout=600)
    history: list[dict[str, str]] = []

    def turn(series: Series, index: int) -> None:
        history.append({"role": "user", "content": f"direct question {index}"})
        parts: list[str] = []
        first = None
        start = time.perf_counter()
        with client.messages.create(
            model=model, max_tokens=MAX_TOKENS, messages=list(history), stream=True
        ) as events:
            for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if first is None:
                        first = time.perf_counter()
                    parts.append(event.delta.text)
        series.record(start, first, time.perf_counter())
        history.append({"role": "assistant", "content": "".join(parts)})

    return turn


def _openai_direct(url: str, model: str) -> Callable[[Series, int], None]:
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=url, max_retries=2, timeout=600)
    history: list[dict[str, str]] = []

    def turn(series: Series, index: int) -> None:
        history.append({"role": "user", "content": f"direct question {index}"})
        parts: list[str] = []
        first = None
        start = time.perf_counter()
        with client.chat.completions.create(
            model=model,
            messages=list(history),  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=MAX_TOKENS,
        ) as chunks:
            for chunk in chunks:
                for choice in chunk.choices[:1]:
                    if choice.delta is not None and choice.delta.content:
                        if first is None:
                            first = time.perf_counter()
                        parts.append(choice.delta.content)
        series.record(start, first, time.perf_counter())
        history.append({"role": "assistant", "content": "".join(parts)})

    return turn


def _via_runtime(runtime: Any, agent: str) -> Callable[[Series, int], None]:
    from orchestration.messages import TurnDelta, TurnFailed, TurnFinished

    def turn(series: Series, index: int) -> None:
        first = None
        deltas = 0
        start = time.perf_counter()
        for event in runtime.send(agent, f"runtime question {index}"):
            if isinstance(event, TurnDelta):
                deltas += 1
                first = first or time.perf_counter()
            elif isinstance(event, TurnFailed):
                raise RuntimeError(f"{agent}'s turn failed: {event.kind}: {event.error}")
            elif isinstance(event, TurnFinished) and event.message.content != REPLY:
                raise RuntimeError(f"unexpected reply {event.message.content!r}")
        series.record(start, first, time.perf_counter())
        # one delta holding the whole reply: the text arrived with TurnFinished, not streamed
        series.late += deltas == 1

    return turn


def _loop(turn: Callable[[Series, int], None], series: Series, count: int) -> list[float]:
    for _ in range(count):
        turn(series, len(series.first))
    return []


def main() -> None:
    from tests.fakes.fake_llm import Directive, FakeLLMServer

    print("ttft: time to first token, SDK direct vs through the Runtime (fake LLM on 127.0.0.1)")
    imported = time.perf_counter()
    import anthropic  # noqa: F401  (imported here, outside every timing)
    import openai  # noqa: F401

    print(f"  (anthropic + openai imported in {time.perf_counter() - imported:.1f} s)")
    with FakeLLMServer(Directive(reply=REPLY, delay=DELTA_DELAY)) as fake:
        credentials = {
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": fake.url,
            "OPENAI_API_KEY": "sk-bench",
            "OPENAI_BASE_URL": fake.openai_url,
        }
        with private_daemon(credentials) as runtime:
            runtime.spawn("claude", provider="anthropic", model="claude-bench")
            runtime.spawn("gpt", provider="openai", model="gpt-bench")
            paths = {
                "anthropic SDK direct": _anthropic_direct(fake.url, "claude-bench"),
                "runtime.send -> agent on anthropic": _via_runtime(runtime, "claude"),
                "openai SDK direct": _openai_direct(fake.openai_url, "gpt-bench"),
                "runtime.send -> agent on openai": _via_runtime(runtime, "gpt"),
            }
            warm = {name: Series() for name in paths}
            for name, turn in paths.items():
                _loop(turn, warm[name], WARMUP)
            series = {name: Series() for name in paths}
            alternate(
                ROUNDS,
                {
                    name: (lambda t=turn, s=series[name]: _loop(t, s, PER_ROUND))
                    for name, turn in paths.items()
                },
            )
            requests = len(fake.requests)

    print(
        f"  ({requests} requests served; each reply {len(REPLY.split())} deltas,"
        f" {DELTA_DELAY * 1e3:g} ms apart)"
    )
    print("time to first token:")
    for name, data in series.items():
        print(Stats.of(data.first).row(name, 36))
    print("whole turn (to the stream's end):")
    for name, data in series.items():
        print(Stats.of(data.total).row(name, 36, tails=False))
    for name, data in series.items():
        if name.startswith("runtime"):
            print(
                f"  {name}: first text streamed as a TurnDelta in {len(data.first) - data.late}"
                f" of {len(data.first)} turns (else it came with TurnFinished)"
            )
    for sdk in ("anthropic", "openai"):
        direct = Stats.of(series[f"{sdk} SDK direct"].first)
        via = Stats.of(series[f"runtime.send -> agent on {sdk}"].first)
        added = via.median - direct.median
        print(
            f"  {sdk}: the Runtime adds {ms(added).strip()} to the median first token "
            f"({via.median / direct.median:.2f}x direct); target <= "
            f"{TARGET_ADDED * 1e3:g} ms  {verdict(added <= TARGET_ADDED)}"
        )


if __name__ == "__main__":
    main()
