"""Responsiveness while a turn streams: Ping round trips and Cancel latency.

One agent on the scripted provider streams a long reply slowly (a word every 50 ms). Meanwhile
the bench asks the agent `Ping` many times and, on other turns, cancels the turn and times how
long the caller waits for its ``TurnFailed(cancelled)``. Baseline, same run: Ping to the same
agent while it is idle. Target: both answered within 100 ms.
"""

from __future__ import annotations

import time
from typing import Any

from bench._common import Stats, ms, private_daemon, verdict

AGENT = "busy"
TARGET = 0.100
PINGS = 200
CANCELS = 20
SLOW = " ".join(f"w{i}" for i in range(400)) + " [[scripted: delay=0.05]]"


def _pings(runtime: Any, address: Any, count: int) -> list[float]:
    from orchestration.messages import Ping, Pong

    samples = []
    with runtime._asys.private() as endpoint:
        for _ in range(count):
            start = time.perf_counter()
            reply = endpoint.ask(address, Ping(), 5.0)
            samples.append(time.perf_counter() - start)
            if not isinstance(reply, Pong):
                raise RuntimeError(f"no Pong: {reply!r}")
    return samples


def _cancels(runtime: Any, count: int) -> list[float]:
    from orchestration.messages import TurnDelta, TurnFailed

    samples = []
    for _ in range(count):
        stream = runtime.send(AGENT, SLOW)
        next(event for event in stream if isinstance(event, TurnDelta))
        start = time.perf_counter()
        stream.cancel()
        final = list(stream)[-1]
        samples.append(time.perf_counter() - start)
        if not (isinstance(final, TurnFailed) and final.kind == "cancelled"):
            raise RuntimeError(f"the turn did not end cancelled: {final!r}")
    return samples


def main() -> None:
    print("responsive: Ping and Cancel while a turn streams (multiprocTCPBase, one daemon)")
    with private_daemon() as runtime:
        runtime.spawn(AGENT, provider="scripted")  # type: ignore[attr-defined]
        address = runtime.resolve(AGENT).agent_address  # type: ignore[attr-defined]
        _pings(runtime, address, 20)
        idle = Stats.of(_pings(runtime, address, PINGS))
        stream = runtime.send(AGENT, SLOW)  # type: ignore[attr-defined]
        next(stream)
        busy = Stats.of(_pings(runtime, address, PINGS))
        stream.cancel()
        list(stream)
        cancel = Stats.of(_cancels(runtime, CANCELS))
    print(idle.row("Ping, agent idle"))
    print(busy.row("Ping, agent streaming"))
    print(cancel.row("Cancel until TurnFailed(cancelled)"))
    print(f"  streaming / idle Ping (median): {busy.median / idle.median:.2f}x")
    worst = max(busy.p99, cancel.p99)
    print(f"  worst p99 {ms(worst).strip()}; target <= 100 ms  {verdict(worst <= TARGET)}")


if __name__ == "__main__":
    main()
