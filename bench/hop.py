"""One message hop: the raw Thespian ask round trip against a turn through the router, and
the cost of authenticating frames.

All in one multiprocTCPBase daemon of our own, on one attached `ActorSystem`:

- raw: ``ask`` of a trivial `EchoActor` (a primary actor in the daemon's system), from one
  ``private()`` context: two hops;
- relay: ``ask`` of a `RelayActor` that passes the request to the echo actor and its answer
  back: the four hops of a turn (caller -> router -> agent -> router -> caller), doing nothing;
- via router: from one ``private()`` context, ``tell(router, Send(...))`` to an agent on the
  scripted provider (no delay), then ``listen()`` until `TurnFinished`. That is the journal
  append of the message, Deliver to the agent, its worker thread, the journal append of the
  reply and the stream messages back (`TurnStarted`, coalesced `TurnDelta`, `TurnFinished`);
- ``runtime.send(name, text).result()``: the facade: an endpoint from the Runtime's pool
  (reused once a turn ended), and the `Send` goes through the root, which forwards it to the
  router (one more hop, no lookup).

Besides, two bare actor systems of one echo actor each (`bench._raw_echo`), asked from their own
processes: one with our signed frames (HMAC-SHA256 and restricted unpickling), one as Thespian
ships it. They differ only in the signing. Target: signed <= 1.05x unsigned (median).

The loops run alternately in rounds after a warm-up, so machine noise hits them alike. Target:
via router <= 2x raw (median). Last, a ``private()`` endpoint alone and a `Resolve` ask alone.
"""

from __future__ import annotations

import time
from typing import Any

from thespian.actors import Actor, ActorExitRequest, ActorSystem

from bench._common import Stats, alternate, ms, private_daemon, ratio_row, timed
from bench._raw_echo import raw_echo

TARGET_RATIO = 2.0
SIGNING_TARGET = 1.05
ROUNDS = 10
RAW_PER_ROUND = 100
ROUTER_PER_ROUND = 50
FACADE_PER_ROUND = 20
WARMUP = 30
AGENT = "hop"
LISTEN_TIMEOUT = 10.0


class EchoActor(Actor):
    """Answers every message with itself; a relayed one goes back to its relay."""

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, tuple) and message[0] == "relay":
            self.send(sender, ("back", *message[1:]))
        elif not isinstance(message, ActorExitRequest):
            self.send(sender, message)


class RelayActor(Actor):
    """Passes a request on to an echo actor and its answer back: client -> relay -> echo ->
    relay -> client, the four hops of a turn through the router (without its work)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.echo: Any = None

    def receiveMessage(self, message: Any, sender: Any) -> None:
        if isinstance(message, tuple) and message[0] == "use":
            self.echo = message[1]
            self.send(sender, "ok")
        elif isinstance(message, tuple) and message[0] == "back":
            self.send(message[1], message[2])
        elif isinstance(message, str):
            self.send(self.echo, ("relay", sender, message))


def ask_loop(endpoint: Any, echo: Any, count: int) -> list[float]:
    samples = []
    for index in range(count):
        payload = f"ping {index}"
        start = time.perf_counter()
        reply = endpoint.ask(echo, payload, LISTEN_TIMEOUT)
        samples.append(time.perf_counter() - start)
        if reply != payload:
            raise RuntimeError(f"echo answered {reply!r} to {payload!r}")
    return samples


class RouterLoop:
    """Turns told straight to the agent's router from one endpoint: the time to `TurnStarted`
    and to `TurnFinished`, and how many messages came back."""

    def __init__(self, endpoint: Any, router: Any, conversation: str) -> None:
        self.endpoint, self.router, self.conversation = endpoint, router, conversation
        self.started: list[float] = []
        self.received: list[int] = []
        self.sent = 0

    def __call__(self, count: int) -> list[float]:
        from orchestration.messages import Envelope, Send, TurnFinished, TurnStarted

        samples = []
        for _ in range(count):
            self.sent += 1
            start = time.perf_counter()
            envelope = Envelope(
                conversation=self.conversation, sender="user", content=f"hello {self.sent}"
            )
            self.endpoint.tell(self.router, Send(message=envelope))
            received = 0
            while True:
                message = self.endpoint.listen(LISTEN_TIMEOUT)
                received += 1
                if isinstance(message, TurnStarted):
                    self.started.append(time.perf_counter() - start)
                elif isinstance(message, TurnFinished):
                    break
                elif message is None or type(message).__name__ in ("TurnFailed", "ErrorReply"):
                    raise RuntimeError(f"turn {self.sent} ended with {message!r}")
            samples.append(time.perf_counter() - start)
            self.received.append(received)
        return samples

    def reset(self) -> None:
        self.started.clear()
        self.received.clear()


def _facade_loop(runtime: Any, count: int) -> list[float]:
    return timed(lambda index: runtime.send(AGENT, f"facade {index}").result(), count)


def _open_private(asys: Any) -> None:
    with asys.private():
        pass


def main() -> None:
    print("hop: raw Thespian ask vs a turn through the router (multiprocTCPBase, one daemon)")
    with private_daemon() as runtime, raw_echo("signed") as signed, raw_echo("unsigned") as plain:
        runtime.spawn(AGENT, provider="scripted", model="echo")
        resolved = runtime.resolve(AGENT)
        asys = ActorSystem(
            "multiprocTCPBase", {"Admin Port": runtime.settings.admin_port}, transientUnique=True
        )
        try:
            echo = asys.createActor("bench.hop.EchoActor")
            relay = asys.createActor("bench.hop.RelayActor")
            if asys.ask(relay, ("use", echo), LISTEN_TIMEOUT) != "ok":
                raise RuntimeError("the relay actor did not answer")
            with (
                asys.private() as raw_endpoint,
                asys.private() as relay_endpoint,
                asys.private() as router_endpoint,
            ):
                router_loop = RouterLoop(
                    router_endpoint, resolved.router, resolved.agent.spec.conversation
                )
                loops = {
                    "raw": lambda: ask_loop(raw_endpoint, echo, RAW_PER_ROUND),
                    "relay": lambda: ask_loop(relay_endpoint, relay, ROUTER_PER_ROUND),
                    "router": lambda: router_loop(ROUTER_PER_ROUND),
                    "facade": lambda: _facade_loop(runtime, FACADE_PER_ROUND),
                    "signed": lambda: signed.asks(RAW_PER_ROUND),
                    "unsigned": lambda: plain.asks(RAW_PER_ROUND),
                }
                # warm-up: connections open, code paths and the journal hot
                ask_loop(raw_endpoint, echo, WARMUP)
                ask_loop(relay_endpoint, relay, WARMUP)
                router_loop(WARMUP)
                _facade_loop(runtime, WARMUP // 3)
                signed.asks(WARMUP)
                plain.asks(WARMUP)
                router_loop.reset()
                samples = alternate(ROUNDS, loops)
                parts = alternate(
                    3,
                    {
                        "private": lambda: timed(lambda _: _open_private(asys), 50),
                        "resolve": lambda: timed(lambda _: runtime.resolve(AGENT), 50),
                    },
                )
            for actor in (relay, echo):
                asys.tell(actor, ActorExitRequest())
        finally:
            # detach only: ActorSystem.shutdown() would stop the daemon's whole system
            asys._systemBase.transport.close()
    _report(samples, parts, router_loop)


def _report(
    samples: dict[str, list[float]], parts: dict[str, list[float]], router_loop: RouterLoop
) -> None:
    raw, relay, router, facade = (
        Stats.of(samples[name]) for name in ("raw", "relay", "router", "facade")
    )
    print(raw.row("raw ask to an echo actor (2 hops)"))
    print(relay.row("ask via a relay actor (4 hops, no work)"))
    print(router.row("tell Send to the router, listen to the end"))
    print(Stats.of(router_loop.started).row("  of which until TurnStarted (3 hops)"))
    print(facade.row("runtime.send(name, text).result()"))
    received = router_loop.received
    print(
        f"  messages received per turn via the router: {sum(received) / len(received):.2f}"
        f" (min {min(received)}, max {max(received)})"
    )
    print(ratio_row("via router / raw ask", router, raw, TARGET_RATIO))
    print(
        f"  via router / 4-hop relay (median): {router.median / relay.median:.2f}x (the router's"
        " own work, beyond its hops)"
    )
    print(f"  runtime.send / raw ask (median): {facade.median / raw.median:.2f}x")
    print(
        f"  runtime.send - router loop: {ms(facade.median - router.median).strip()}"
        " (the facade's bookkeeping, and the hop through the root)"
    )
    signed, unsigned = Stats.of(samples["signed"]), Stats.of(samples["unsigned"])
    print(unsigned.row("raw ask, Thespian's unsigned frames"))
    print(signed.row("raw ask, our signed frames"))
    print(ratio_row("signed / unsigned raw ask", signed, unsigned, SIGNING_TARGET, digits=3))
    print(Stats.of(parts["private"]).row("a private() endpoint, opened and closed"))
    print(Stats.of(parts["resolve"]).row("a Resolve ask to the root (own endpoint)"))


if __name__ == "__main__":
    main()
