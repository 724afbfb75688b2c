"""The remote interfaces' cost: REST and WebSocket against the Runtime and the SDK directly.

One private daemon, ``orchestration serve`` in a process of its own (as users run it), and a
fake LLM server on 127.0.0.1; the clients run in this process; in the same run, alternating:

- REST round trip: ``POST /v1/agents/{name}/messages`` (JSON reply) to a scripted agent, next
  to ``runtime.send(...).result()`` to the same agent;
- WebSocket time to first token: a ``say`` frame on ``/v1/ws/conversations/dm:claude`` (an
  agent on provider ``anthropic``) until the first ``delta`` frame, next to the anthropic SDK
  called directly against the fake server until its first text delta. Target: at most 5 ms
  added at the median. The row ``runtime.send()`` shows the actor tree's share: a turn of
  ``claude-direct``, which nobody observes (the WebSocket client observes ``claude``, so each
  of its streamed messages also goes through the router, the gateway and the server's link);
- fan-out to WebSocket subscribers: 100 clients on one conversation; one message said; when
  each of them got its ``message`` frame (all must), and the spread from the first to the last.
  They follow through the gateway actor (one router subscriber, one copy to the server); next
  to 100 direct Runtime subscriptions, each a router subscriber of its own.

Every client sets TCP_NODELAY (see `NODELAY`).

Run: ``uv run python -m bench gateway [--rounds 5] [--subscribers 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench._common import Stats, alternate, free_port, ms, private_daemon, timed, verdict

TARGET_ADDED = 0.005
NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
"""Clients send small writes at once, as curl and browsers do."""
PER_ROUND = 20
WARMUP = 5
REPLY = "Hello from the fake model: a short reply, streamed word by word to the caller."
DELTA_DELAY = 0.001
MAX_TOKENS = 4096


@contextmanager
def served() -> Iterator[str]:
    """``orchestration serve`` as users run it: a process of its own, attached to the private
    daemon (whose environment it inherits), with no rate limit; its host:port."""
    import httpx2

    port = free_port()
    base = f"127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would block serve
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "serve", "--port", str(port)],
            env={**os.environ, "ORCH_RATE_LIMIT_PER_MINUTE": "0"},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"serve exited: {log.read().decode()}")
                try:
                    if httpx2.get(f"http://{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("serve did not answer /healthz within 30 s") from None
                    time.sleep(0.05)  # poll interval while serve starts
            yield base
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def rest_turns(client: Any, agent: str) -> Callable[[], list[float]]:
    def post(index: int) -> None:
        reply = client.post(f"/v1/agents/{agent}/messages", json={"content": f"rest {index}"})
        if reply.status_code != 200:
            raise RuntimeError(f"REST send failed: {reply.status_code} {reply.text}")

    return lambda: timed(post, PER_ROUND)


def runtime_turns(runtime: Any, agent: str) -> Callable[[], list[float]]:
    return lambda: timed(lambda index: runtime.send(agent, f"runtime {index}").result(), PER_ROUND)


# --- time to first token -----------------------------------------------------------------------


def sdk_first_token(url: str) -> Callable[[], list[float]]:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-bench", base_url=url, max_retries=2, timeout=600)
    history: list[dict[str, str]] = []

    def loop() -> list[float]:
        samples = []
        for index in range(PER_ROUND):
            history.append({"role": "user", "content": f"direct {index}"})
            start = time.perf_counter()
            first = None
            with client.messages.create(
                model="claude-bench", max_tokens=MAX_TOKENS, messages=list(history), stream=True
            ) as events:
                for event in events:
                    if event.type == "content_block_delta" and first is None:
                        first = time.perf_counter()
            if first is None:
                raise RuntimeError("the SDK stream had no text")
            samples.append(first - start)
            history.append({"role": "assistant", "content": REPLY})
        return samples

    return loop


def runtime_first_token(runtime: Any, agent: str) -> Callable[[], list[float]]:
    def loop() -> list[float]:
        samples = []
        for index in range(PER_ROUND):
            start = time.perf_counter()
            with runtime.send(agent, f"runtime {index}") as turn:
                first = None
                for event in turn:
                    if first is None and type(event).__name__ == "TurnDelta":
                        first = time.perf_counter()
            assert first is not None, "the turn had no text"
            samples.append(first - start)
        return samples

    return loop


def ws_first_token(base: str, agent: str) -> Callable[[], list[float]]:
    from websockets.sync.client import connect

    host, port = base.split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(*NODELAY)
    socket_ = connect(f"ws://{base}/v1/ws/conversations/dm:{agent}", sock=sock)
    _until(socket_, "ready")

    def loop() -> list[float]:
        samples = []
        for index in range(PER_ROUND):
            start = time.perf_counter()
            socket_.send(json.dumps({"type": "say", "content": f"ws {index}"}))
            _until(socket_, "delta")
            samples.append(time.perf_counter() - start)
            _until(socket_, "finished")
        return samples

    return loop


def _until(socket_: Any, kind: str, timeout: float = 30.0) -> dict[str, Any]:
    """The next frame of type ``kind`` (frames before it are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(socket_.recv(timeout=max(deadline - time.monotonic(), 0.001)))
        if frame["type"] == "error":
            raise RuntimeError(f"WebSocket error frame: {frame['problem']}")
        if frame["type"] == kind:
            return frame


# --- fan-out to subscribers ----------------------------------------------------------------------


async def _subscribers_round(base: str, runtime: Any, agent: str, count: int) -> list[float]:
    """Arrival times (after the say) of one message at ``count`` subscribers."""
    from websockets.asyncio.client import connect

    url = f"ws://{base}/v1/ws/conversations/dm:{agent}"
    sockets = [await connect(url, max_queue=None) for _ in range(count)]
    try:
        for each in sockets:
            while json.loads(await asyncio.wait_for(each.recv(), 30))["type"] != "ready":
                pass
        text = f"to all {time.monotonic_ns()}"
        start = time.perf_counter()
        await asyncio.to_thread(lambda: runtime.send(agent, text).result())
        arrivals = await asyncio.gather(*(_arrival(each, text, start) for each in sockets))
    finally:
        await asyncio.gather(*(each.close() for each in sockets))
    return list(arrivals)


async def _arrival(socket_: Any, text: str, start: float) -> float:
    while True:
        frame = json.loads(await asyncio.wait_for(socket_.recv(), 30))
        if frame["type"] == "message" and frame["message"]["content"] == text:
            return time.perf_counter() - start


def _direct_round(runtime: Any, agent: str, count: int) -> list[float]:
    """The baseline: ``count`` Runtime subscriptions of their own (each a subscriber of the
    agent's router, read by a thread); arrival times of one message after the send."""
    text = f"to all {time.monotonic_ns()}"
    subscribed = threading.Barrier(count + 1)
    arrivals: list[float] = []
    start = [0.0]

    def subscriber() -> None:
        with runtime.observe(agent, timeout=30) as feed:
            subscribed.wait()
            for item in feed:
                if getattr(item, "content", None) == text:
                    arrivals.append(time.perf_counter() - start[0])
                    return

    threads = [threading.Thread(target=subscriber) for _ in range(count)]
    for thread in threads:
        thread.start()
    subscribed.wait()
    start[0] = time.perf_counter()
    runtime.send(agent, text).result()
    for thread in threads:
        thread.join(60)
    assert len(arrivals) == count, f"only {len(arrivals)} of {count} subscribers got it"
    return arrivals


# --- the run ---------------------------------------------------------------------------------


def main(argv: Sequence[str] = ()) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench gateway")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subscribers", type=int, default=100)
    args = parser.parse_args(list(argv))

    import httpx2

    from tests.fakes.fake_llm import Directive, FakeLLMServer

    print("gateway: REST and WebSocket vs the Runtime and the SDK (fake LLM on 127.0.0.1)")
    with FakeLLMServer(Directive(reply=REPLY, delay=DELTA_DELAY)) as fake:
        credentials = {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
        with private_daemon(credentials) as runtime:
            r: Any = runtime
            r.spawn("echo", provider="scripted", model="echo")
            r.spawn("claude", provider="anthropic", model="claude-bench")
            r.spawn("claude-direct", provider="anthropic", model="claude-bench")
            with served() as base:
                transport = httpx2.HTTPTransport(socket_options=[NODELAY])
                with httpx2.Client(
                    base_url=f"http://{base}", timeout=30, transport=transport
                ) as client:
                    _report_rest(client, r, args.rounds)
                    _report_ttft(base, r, fake.url, args.rounds)
                _report_fanout(base, r, args.subscribers, args.rounds)


def _compare(rounds: int, *paths: tuple[str, Callable[[], list[float]]]) -> list[Stats]:
    """Warm the loops up, run them alternated, print their rows; their stats, in order."""
    loops = dict(paths)
    for loop in loops.values():
        loop()
    stats = {name: Stats.of(values) for name, values in alternate(rounds, loops).items()}
    for name, figures in stats.items():
        print(figures.row(name))
    return [stats[name] for name, _ in paths]


def _report_rest(client: Any, runtime: Any, rounds: int) -> None:
    rest, direct = _compare(
        rounds,
        ("REST POST .../messages", rest_turns(client, "echo")),
        ("runtime.send().result()", runtime_turns(runtime, "echo")),
    )
    print(
        f"  REST / runtime (median): {rest.median / direct.median:.2f}x,"
        f" +{ms(rest.median - direct.median)}"
    )


def _report_ttft(base: str, runtime: Any, url: str, rounds: int) -> None:
    ws, runtime_path, sdk = _compare(
        rounds,
        ("WebSocket say -> first delta", ws_first_token(base, "claude")),
        ("runtime.send() -> first delta", runtime_first_token(runtime, "claude-direct")),
        ("anthropic SDK direct", sdk_first_token(url)),
    )
    added = ws.median - sdk.median
    print(
        f"  added by the WebSocket path (median): {ms(added)}  target <= 5 ms "
        f"{verdict(added <= TARGET_ADDED)}; of which the actor tree (runtime.send):"
        f" {ms(runtime_path.median - sdk.median)}"
    )


def _report_fanout(base: str, runtime: Any, count: int, rounds: int) -> None:
    paths = {
        f"{count} WebSockets (gateway)": lambda: asyncio.run(
            _subscribers_round(base, runtime, "echo", count)
        ),
        f"{count} direct subscriptions": lambda: _direct_round(runtime, "echo", count),
    }
    for run in paths.values():
        run()  # warm-up
    lasts: dict[str, list[float]] = {name: [] for name in paths}
    spreads: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            arrivals = run()
            lasts[name].append(max(arrivals))
            spreads[name].append(max(arrivals) - min(arrivals))
    for name in paths:
        last, spread = Stats.of(lasts[name]), Stats.of(spreads[name])
        print(
            f"  {name}, one message, {rounds} rounds: all received; last arrival median"
            f" {ms(last.median)} (max {ms(max(lasts[name]))}), spread first->last median"
            f" {ms(spread.median)} (max {ms(max(spreads[name]))})"
        )
    gateway, direct = (Stats.of(lasts[name]).median for name in paths)
    print(f"  gateway / direct (last arrival, median): {gateway / direct:.2f}x")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
