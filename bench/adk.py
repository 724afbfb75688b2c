"""The ADK bridge's overhead per workflow step: an ADK run of one step against the same turn
taken directly.

One private daemon, scripted agents that echo at once (no delay), so what is timed is the
machinery, not a model. In the same run, alternating in rounds after a warm-up:

- direct: ``runtime.send(AGENT, text).result()``, the blocking facade;
- direct async: ``AsyncRuntime.send`` iterated to its end in an event loop, which is what
  `ActorLlm` does for every call;
- bridge: ``adk.run(adk.llm_agent(AGENT), text)`` iterated to its end: a fresh
  ``InMemoryRunner`` and session, ADK's agent loop, one `ActorLlm` call (streaming, as
  ``workflow run`` asks), and its `StepEvent`s;
- single: the same step as the only child of a ``SequentialAgent``. A bare ``LlmAgent``
  root is built into a node on every run (ADK's ``build_node``), which tries to import ADK's
  remote A2A agent each time and fails without the ``a2a`` package; with
  ``PYTHONDONTWRITEBYTECODE`` set, that recompiles the module on every run (some 20 ms). Inside
  a ``SequentialAgent`` that does not happen, so this row is the bridge's own cost;
- sequence: a ``SequentialAgent`` of two steps (agents ``one`` and ``two``): its time halved
  is the cost per step of a two-step workflow, and its time less single's the cost of one more
  step.

Printed: median, p90 and p99 of each; the ratio bridge / direct and the absolute overhead per
step (bridge - direct, and bridge - direct async, the share of ADK itself), at the median.
Without google-adk installed it says how to install it and returns.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from bench._common import Stats, alternate, ms, private_daemon, timed

ROUNDS = 10
PER_ROUND = 20
WARMUP = 20
AGENT = "echo"
PAIR = ("one", "two")
SINGLE = "step"


def _async_timed(
    loop: asyncio.AbstractEventLoop, call: Callable[[int], Coroutine[Any, Any, object]], count: int
) -> list[float]:
    """How long each of ``count`` awaited calls took (seconds), on ``loop``."""

    async def series() -> list[float]:
        samples = []
        for index in range(count):
            start = time.perf_counter()
            await call(index)
            samples.append(time.perf_counter() - start)
        return samples

    return loop.run_until_complete(series())


def main() -> None:
    print("adk: one ADK workflow step through the bridge vs the same turn taken directly")
    if importlib.util.find_spec("google.adk") is None:
        print("  google-adk is not installed; install it with: uv sync --extra adk")
        return
    from google.adk.agents import SequentialAgent

    from orchestration.aio import AsyncRuntime
    from orchestration.interfaces import adk
    from orchestration.messages import TurnFailed

    with private_daemon() as runtime:
        for name in (AGENT, *PAIR):
            runtime.spawn(name, provider="scripted", model="echo")  # type: ignore[attr-defined]
        aruntime = AsyncRuntime(runtime)  # type: ignore[arg-type]
        adk.use_runtime(aruntime)
        step = adk.llm_agent(AGENT)
        with warnings.catch_warnings():  # the legacy agent is what a tree file's steps are
            warnings.simplefilter("ignore", DeprecationWarning)
            pair = SequentialAgent(name="pair", sub_agents=[adk.llm_agent(n) for n in PAIR])
            single = SequentialAgent(name="single", sub_agents=[adk.llm_agent(AGENT, SINGLE)])

        async def direct_async(index: int) -> None:
            async for item in aruntime.send(AGENT, f"async {index}"):
                if isinstance(item, TurnFailed):
                    raise RuntimeError(f"the turn failed: {item.error}")

        def bridged(target: Any, label: str) -> Callable[[int], Coroutine[Any, Any, None]]:
            async def one(index: int) -> None:
                finals = [e async for e in adk.run(target, f"{label} {index}") if not e.partial]
                if not finals:
                    raise RuntimeError(f"the {label} run yielded no reply")

            return one

        bridge, sequence = bridged(step, "bridge"), bridged(pair, "sequence")
        wrapped = bridged(single, "single")
        loop = asyncio.new_event_loop()
        try:
            timed(lambda i: runtime.send(AGENT, f"warm {i}").result(), WARMUP)  # type: ignore[attr-defined]
            _async_timed(loop, direct_async, WARMUP)
            _async_timed(loop, bridge, WARMUP)
            _async_timed(loop, wrapped, WARMUP)
            _async_timed(loop, sequence, WARMUP // 2)
            samples = alternate(
                ROUNDS,
                {
                    "direct": lambda: timed(
                        lambda i: runtime.send(AGENT, f"direct {i}").result(),  # type: ignore[attr-defined]
                        PER_ROUND,
                    ),
                    "async": lambda: _async_timed(loop, direct_async, PER_ROUND),
                    "bridge": lambda: _async_timed(loop, bridge, PER_ROUND),
                    "single": lambda: _async_timed(loop, wrapped, PER_ROUND),
                    "sequence": lambda: _async_timed(loop, sequence, PER_ROUND // 2),
                },
            )
        finally:
            adk.use_runtime(None)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
    _report(samples)


def _report(samples: dict[str, list[float]]) -> None:
    direct, direct_async, bridge, single, sequence = (
        Stats.of(samples[key]) for key in ("direct", "async", "bridge", "single", "sequence")
    )
    per_step = Stats.of([seconds / len(PAIR) for seconds in samples["sequence"]])
    print(direct.row("direct: runtime.send(...).result()"))
    print(direct_async.row("direct async: AsyncRuntime.send, to its end"))
    print(bridge.row("bridge: adk.run(llm_agent(...)), one step"))
    print(single.row("bridge: SequentialAgent of that 1 step"))
    print(sequence.row("bridge: SequentialAgent of 2 steps, whole run"))
    print(per_step.row("  of which per step (run / 2)"))
    rows = (
        ("one-step run", bridge),
        ("one step in a SequentialAgent", single),
        ("per step of a 2-step run", per_step),
    )
    for label, ours in rows:
        print(
            f"  {label} / direct turn (median): {ours.median / direct.median:.2f}x;"
            f" overhead {ms(ours.median - direct.median).strip()} over runtime.send,"
            f" {ms(ours.median - direct_async.median).strip()} over AsyncRuntime.send"
        )
    print(
        f"  a second step (2-step run - 1-step SequentialAgent, median):"
        f" {ms(sequence.median - single.median).strip()}"
        f" = direct turn + {ms(sequence.median - single.median - direct.median).strip()}"
    )
    print(
        f"  AsyncRuntime.send / runtime.send (median): {direct_async.median / direct.median:.2f}x"
    )


if __name__ == "__main__":
    main()
